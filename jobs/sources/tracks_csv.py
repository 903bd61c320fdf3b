"""Public tracks-with-audio-features files -> the lake's artists, top_tracks and audio_features.

Two layouts (DESIGN.md), told apart by their header:

- "1.2M songs" ``tracks_features.csv``: ``id, name, album, album_id, artists, artist_ids, ...,
  danceability ... time_signature, year, release_date``; no popularity.
- "600k tracks" ``tracks.csv``: ``id, name, popularity, duration_ms, explicit, artists, id_artists,
  release_date, danceability ...``, with an optional ``artists.csv`` (``id, followers, genres, name,
  popularity``) for names, genres and popularity.

List columns hold Python-style lists (``['a', "b's"]``). A track belongs to each artist it lists.
An artist's top tracks are its tracks ranked by popularity where the file has it, else by the
most recent release, capped at ``max_tracks``.

Public dumps have stray rows: a value that does not read as its column's type (a number, a date)
becomes null instead of failing the job (``try_cast``, whatever ``spark.sql.ansi.enabled`` says),
and an unreadable list becomes empty.
"""

from __future__ import annotations

import ast
import logging
from functools import reduce
from typing import Mapping

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from jobs.common import schemas
from jobs.common.config import ConfigError

log = logging.getLogger(__name__)

SOURCE = "tracks-csv"
FEATURES = [field.name for field in schemas.AUDIO_FEATURES.fields if field.name not in ("track_id", "source")]
KINDS = {field.name: field.dataType.typeName() for field in schemas.AUDIO_FEATURES.fields}
LAYOUTS = {"tracks_features": "artist_ids", "tracks_600k": "id_artists"}


@F.pandas_udf(ArrayType(StringType()))
def parse_list(texts):
    """``"['a', \\"b's\\"]"`` -> ``["a", "b's"]``; anything unreadable -> ``[]``."""
    def one(text):
        try:
            value = ast.literal_eval(text) if isinstance(text, str) and text.startswith("[") else []
        except (ValueError, SyntaxError):
            return []
        return [str(item) for item in value] if isinstance(value, (list, tuple)) else []
    return texts.map(one)


def read_csv(spark: SparkSession, path: str) -> DataFrame:
    from pyspark.errors import AnalysisException
    try:
        return (spark.read.option("header", True).option("multiLine", True).option("escape", '"')
                .option("mode", "PERMISSIVE").csv(path))
    except AnalysisException as exc:
        raise ConfigError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None


def detect_layout(columns: list[str]) -> str:
    for layout, marker in LAYOUTS.items():
        if marker in columns:
            return layout
    raise ConfigError(f"tracks file has neither an 'artist_ids' column (1.2M songs layout) nor 'id_artists' "
                      f"(600k tracks layout); its columns: {', '.join(columns[:30])}")


def with_artist_lists(tracks: DataFrame) -> DataFrame:
    """``tracks`` plus its list columns parsed once: ``_artist_ids`` and ``_artist_names`` (arrays)."""
    if "_artist_ids" in tracks.columns:
        return tracks
    ids_column = LAYOUTS[detect_layout(tracks.columns)]
    return (tracks.withColumn("_artist_ids", parse_list(F.col(ids_column)))
            .withColumn("_artist_names", parse_list(F.col("artists"))))


def track_artists(tracks: DataFrame) -> DataFrame:
    """One row per (track, listed artist): ``track_id, artist_id, artist_name`` (tracks from :func:`with_artist_lists`)."""
    pairs = F.arrays_zip(F.col("_artist_ids").alias("id"), F.col("_artist_names").alias("name"))
    return (tracks.select(F.col("id").alias("track_id"), F.explode(pairs).alias("a"))
            .select("track_id", F.col("a.id").alias("artist_id"), F.col("a.name").alias("artist_name"))
            .where(F.col("artist_id").isNotNull() & (F.length("artist_id") > 0)))


def _int(name: str) -> Column:
    return _double(name).try_cast("int")


def _double(name: str) -> Column:
    return F.col(name).try_cast("double")


def lake_tables(tracks: DataFrame, artists_csv: DataFrame | None, max_tracks: int) -> dict[str, DataFrame]:
    """The three lake tables from a tracks file (and the 600k layout's artists file)."""
    tracks = with_artist_lists(tracks).where(F.col("id").isNotNull()).dropDuplicates(["id"])
    has_popularity = "popularity" in tracks.columns
    album = F.col("album") if "album" in tracks.columns else F.lit(None).cast("string")
    track_info = tracks.select(
        F.col("id").alias("track_id"), "name", album.alias("album_name"),
        (_int("popularity") if has_popularity else F.lit(None).cast("int")).alias("popularity"),
        _int("duration_ms").alias("duration_ms"),
        F.col("release_date").try_cast("date").alias("released"))   # "2001", "2001-05" and "2001-05-03" all read
    pairs = track_artists(tracks)
    order = Window.partitionBy("artist_id").orderBy(F.col("popularity").desc_nulls_last(),
                                                     F.col("released").desc_nulls_last(), "track_id")
    top = (pairs.join(track_info, "track_id")
           .withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= max_tracks))
    top_tracks = top.select(
        "artist_id", "track_id", F.col("rank").cast("int"), "name", "album_name",
        F.lit(None).cast("string").alias("album_image_url"), "popularity", "duration_ms",
        F.concat(F.lit("https://open.spotify.com/track/"), "track_id").alias("spotify_url"),
        F.lit(SOURCE).alias("source"))

    listed = pairs.groupBy("artist_id").agg(F.min("artist_name").alias("listed_name"))
    if artists_csv is not None:
        info = artists_csv.select(
            F.col("id").alias("artist_id"), F.col("name"), parse_list(F.col("genres")).alias("genres"),
            _int("popularity").alias("popularity"), _double("followers").try_cast("long").alias("followers"))
        artists = listed.join(info.dropDuplicates(["artist_id"]), "artist_id", "left").withColumn(
            "name", F.coalesce("name", "listed_name"))
    else:
        artists = listed.select("artist_id", F.col("listed_name").alias("name"),
                                F.lit(None).cast("array<string>").alias("genres"),
                                F.lit(None).cast("int").alias("popularity"), F.lit(None).cast("long").alias("followers"))
    artists = artists.join(top_tracks.select("artist_id").distinct(), "artist_id", "left_semi").select(
        "artist_id", "name", "genres", "popularity", "followers", F.lit(None).cast("string").alias("image_url"),
        F.concat(F.lit("https://open.spotify.com/artist/"), "artist_id").alias("spotify_url"),
        F.lit(SOURCE).alias("source"))

    features = tracks.select(
        F.col("id").alias("track_id"),
        *[(_int(f) if KINDS[f] == "integer" else _double(f)).alias(f) for f in FEATURES],
        F.lit(SOURCE).alias("source"))
    return {"artists": artists.select(*schemas.ARTISTS.fieldNames()),
            "top_tracks": top_tracks.select(*schemas.TOP_TRACKS.fieldNames()),
            "audio_features": features.select(*schemas.AUDIO_FEATURES.fieldNames())}


def file_summary(tracks: DataFrame) -> dict[str, int]:
    """What a tracks file holds: its rows, the ones skipped (no id, an id seen before), and among
    the tracks kept, those linked to no artist and those with a missing or unreadable feature."""
    tracks = with_artist_lists(tracks)
    whole = tracks.agg(F.count(F.lit(1)).alias("rows"), F.count_if(F.col("id").isNull()).alias("without_id"),
                       F.countDistinct("id").alias("ids")).first()
    linked = F.size(F.filter("_artist_ids", lambda artist_id: F.length(artist_id) > 0)) > 0
    gap = reduce(lambda a, b: a | b, [_double(f).isNull() for f in FEATURES if f in tracks.columns])
    kept = (tracks.where(F.col("id").isNotNull()).dropDuplicates(["id"])
            .agg(F.count_if(~linked).alias("without_artists"), F.count_if(gap).alias("feature_gaps")).first())
    return {"rows": whole.rows, "without_id": whole.without_id, "duplicate_ids": whole.rows - whole.without_id - whole.ids,
            "without_artists": kept.without_artists or 0, "feature_gaps": kept.feature_gaps or 0}


def read_tracks_csv(spark: SparkSession, options: Mapping) -> dict[str, DataFrame]:
    """``[tracks_csv]``: ``tracks`` (required), ``artists`` (optional), ``max_tracks`` (10)."""
    path = str(options.get("tracks", "") or "")
    if not path:
        raise ConfigError("tracks-csv needs a file: --tracks FILE or tracks_csv.tracks")
    tracks = read_csv(spark, path)
    missing = {"id", "name", "artists"} - set(tracks.columns)
    if missing:
        raise ConfigError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
    artists_path = str(options.get("artists", "") or "")
    artists = read_csv(spark, artists_path) if artists_path else None
    # Parsed once (a multi-line CSV is read by one task) for the summary and the three tables.
    tracks = with_artist_lists(tracks).persist(StorageLevel.MEMORY_AND_DISK)
    found = file_summary(tracks)
    tables = lake_tables(tracks, artists, int(options.get("max_tracks", 10)))
    log.info("tracks-csv summary: %(rows)d rows in the file; skipped: %(without_id)d without an id, "
             "%(duplicate_ids)d repeating an id; not linked to any artist (artist list empty or unreadable): "
             "%(without_artists)d; kept with null features: %(feature_gaps)d (a missing or unreadable value)", found)
    return tables
