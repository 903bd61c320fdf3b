"""Lake snapshot -> rows of the mart's serving tables, as pure DataFrame transforms."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from jobs.common.schemas import local_frame
from mart.schema import COLUMNS, DEFAULT_REASON, TEXT_WIDTHS
from shared.names import initials, name_key


@F.pandas_udf(StructType([StructField("key", StringType()), StructField("initials", StringType())]))
def keys_udf(names: pd.Series) -> pd.DataFrame:
    """``shared.names.name_key`` and ``shared.names.initials`` (초성, or null) of a column of names, in one
    pass of Python over them."""
    keys = names.map(name_key, na_action="ignore")
    return pd.DataFrame({"key": keys, "initials": keys.map(initials, na_action="ignore")})


def with_keys(frame: DataFrame, source: str, key: str) -> DataFrame:
    """``frame`` with the lookup key ``key`` of its names in column ``source`` and their suggestion keys:
    ``rev_key`` (the key backwards, by characters like ``shared.names.rev_key``) and ``initials``."""
    return (
        frame.withColumn("_keys", keys_udf(F.col(source)))
        .withColumn(key, F.substring(F.col("_keys.key"), 1, TEXT_WIDTHS["name_key"]))
        .withColumn("rev_key", F.reverse(F.col(key)))
        .withColumn("initials", F.col("_keys.initials"))
        .drop("_keys")
    )


def title_key(column: str) -> Column:
    """A track title compared loosely (case, spaces and punctuation aside): one song released twice."""
    return F.lower(F.regexp_replace(F.col(column), r"[\s\p{P}\p{Z}\p{C}]+", ""))


def _cut(name: str) -> Column:
    """Column ``name`` cut to the width the mart stores."""
    return F.substring(F.col(name), 1, TEXT_WIDTHS[name]).alias(name)


def mart_artists(artists: DataFrame) -> DataFrame:
    """One row per artist_id (the most popular row when the lake holds several), in mart layout.

    ``name`` is trimmed and falls back to the artist_id when missing; ``genres`` becomes a JSON array text.
    """
    best = F.max_by(
        F.struct("name", "image_url", "spotify_url", "genres", "popularity"),
        F.struct(F.coalesce("popularity", F.lit(-1)), F.coalesce("name", F.lit(""))),
    )
    one = (
        artists.where(F.col("artist_id").isNotNull())
        .groupBy("artist_id")
        .agg(best.alias("a"))
        .select("artist_id", "a.*")
        .withColumn("name", F.coalesce(F.nullif(F.trim("name"), F.lit("")), F.col("artist_id")))
    )
    shaped = one.select(
        _cut("artist_id"),
        _cut("name"),
        _cut("image_url"),
        _cut("spotify_url"),
        F.when(F.col("genres").isNotNull(), F.to_json("genres")).alias("genres"),
        F.col("popularity").cast("int").alias("popularity"),
    )
    return shaped.transform(lambda frame: with_keys(frame, "name", "name_key")).select(*COLUMNS["artists"])


def mart_artist_aliases(aliases: DataFrame, artists: DataFrame) -> DataFrame:
    """``alias_key -> artist_id`` for aliases of published ``artists`` (mart layout).

    Aliases whose key is empty or equal to the artist's own name key are dropped; a key
    claimed by several artists goes to the most popular one (then the lowest artist_id).
    """
    keyed = (
        aliases.select("artist_id", "alias")
        .transform(lambda frame: with_keys(frame, "alias", "alias_key"))
        .where(F.length("alias_key") > 0)
        .join(artists.select("artist_id", "name_key", "popularity"), "artist_id")
        .where(F.col("alias_key") != F.col("name_key"))
    )
    owner = F.min_by(
        F.struct("artist_id", "rev_key", "initials"), F.struct(-F.coalesce("popularity", F.lit(-1)), F.col("artist_id"))
    )
    return (
        keyed.groupBy("alias_key").agg(owner.alias("o")).select("alias_key", "o.*").select(*COLUMNS["artist_aliases"])
    )


def mart_top_tracks(top_tracks: DataFrame, artists: DataFrame, per_artist: int) -> DataFrame:
    """The ``per_artist`` best top tracks of each published artist, ranked 1.. without gaps (mart layout).

    Each is a distinct song: of the tracks sharing a title (a single and its album version, compared
    by ``title_key``) only the best ranked is kept. One shuffle and one sort of the tracks: both windows
    share the artist's order (rank, then track_id), and the published artists are joined to the few
    rows that remain.
    """
    order = Window.partitionBy("artist_id").orderBy(F.col("rank").asc_nulls_last(), "track_id")
    titles_before = F.collect_set("_title").over(order.rowsBetween(Window.unboundedPreceding, -1))
    songs_so_far = F.sum(F.col("_first").cast("int")).over(
        order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    ranked = (
        top_tracks.where(F.col("track_id").isNotNull())
        .withColumn("_title", F.coalesce(title_key("name"), F.col("track_id")))
        .withColumn("_first", ~F.array_contains(titles_before, F.col("_title")))
        .withColumn("rank", songs_so_far)
        .where(F.col("_first") & (F.col("rank") <= per_artist))
        .join(artists.select("artist_id"), "artist_id", "left_semi")
    )
    return ranked.select(
        _cut("artist_id"),
        F.col("rank").cast("int").alias("rank"),
        _cut("track_id"),
        F.substring(F.coalesce("name", F.col("track_id")), 1, TEXT_WIDTHS["name"]).alias("name"),
        _cut("album_name"),
        F.substring("album_image_url", 1, TEXT_WIDTHS["image_url"]).alias("image_url"),
    )


def mart_related_artists(related: DataFrame) -> DataFrame:
    """The lake's related_artists rows in mart layout, with why each was chosen (``reason``).

    A snapshot from before the column (``jobs.common.schemas.RELATED_ARTISTS``) or a row without a value
    (written before the column was added to the table) was chosen by sound alone: ``sound``. Any other
    value is published as it is, cut to the column's width, for the staging checks to refuse
    (``checks.related_references``): a reason the chatbot cannot word is a bug upstream, not data.
    """
    reason = (
        F.coalesce(F.col("reason"), F.lit(DEFAULT_REASON)) if "reason" in related.columns else F.lit(DEFAULT_REASON)
    )
    return related.select(
        "artist_id",
        F.col("rank").cast("int").alias("rank"),
        "related_id",
        F.col("distance").cast("double"),
        F.substring(reason, 1, TEXT_WIDTHS["reason"]).alias("reason"),
    )


@dataclass(frozen=True)
class MartFrames:
    """The rows of the four serving tables for one publish."""

    artists: DataFrame
    artist_aliases: DataFrame
    top_tracks: DataFrame
    related_artists: DataFrame

    def tables(self) -> dict[str, DataFrame]:
        return {
            "artists": self.artists,
            "artist_aliases": self.artist_aliases,
            "top_tracks": self.top_tracks,
            "related_artists": self.related_artists,
        }


def mart_frames(
    artists: DataFrame, top_tracks: DataFrame, related: DataFrame, aliases: DataFrame | None, tracks_per_artist: int
) -> MartFrames:
    """The serving tables of one lake snapshot. ``aliases`` (``artist_id, alias``) may be absent."""
    published = mart_artists(artists)
    if aliases is None:
        alias_rows = local_frame(
            published.sparkSession, [], "alias_key string, artist_id string, rev_key string, initials string"
        )
    else:
        alias_rows = mart_artist_aliases(aliases, published)
    return MartFrames(
        artists=published,
        artist_aliases=alias_rows,
        top_tracks=mart_top_tracks(top_tracks, published, tracks_per_artist),
        related_artists=mart_related_artists(related),
    )
