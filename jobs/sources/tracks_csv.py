"""Public tracks-with-audio-features files -> the lake's artists, top_tracks and audio_features.

Three layouts (docs/running.md names them), told apart by their header:

- "1.2M songs" ``tracks_features.csv``: ``id, name, album, album_id, artists, artist_ids, ...,
  danceability ... time_signature, year, release_date``; no popularity.
- "600k tracks" ``tracks.csv``: ``id, name, popularity, duration_ms, explicit, artists, id_artists,
  release_date, danceability ...``, with an optional ``artists.csv`` (``id, followers, genres, name,
  popularity``) for names, genres and popularity.
- TidyTuesday ``spotify_songs.csv``: ``track_id, track_name, track_artist, track_popularity,
  track_album_*, playlist_*, playlist_genre, playlist_subgenre, danceability ...``: one artist per
  row, named but without an id. An artist's id is derived from its name (the first 22 hex digits
  of the SHA-256 of the trimmed, lower-cased name), its genres are the playlist genres and
  subgenres of all its rows. Copies of this file rename columns (``artist_name``, ``genre``,
  ``popularity``, no ``track_id``: then the track id is derived from name, artist and album);
  the names in :data:`TIDY_COLUMNS` are all accepted.

List columns of the first two layouts hold Python-style lists (``['a', "b's"]``). A track belongs
to each artist it lists. An artist's top tracks are its tracks ranked by popularity where the file
has it, else by the most recent release, capped at ``max_tracks``; each keeps its release date.

Public dumps have stray rows: a value that does not read as its column's type (a number, a date)
becomes null instead of failing the job (``try_cast``, whatever ``spark.sql.ansi.enabled`` says),
and the run's summary counts those nulls per column. Dates are read in the common forms
(``2001``, ``2001-05``, ``2001-05-03``, ``03-05-2001``, ``03.05.2001``, ``2001/05/03``,
``05/03/2001``). A list cell that is not a list of names (or longer than :data:`MAX_LIST_CELL`
characters) becomes an empty list and is counted.

Names (of tracks, and of artists in a list cell, a TidyTuesday row or ``artists.csv``) are single
lines of text: control characters (C0, DEL and C1: a NUL byte, a bell, an escape, written in the cell or
as an escape in a list's Python literal) are taken out, those that space words (tab, line breaks) read
as a space (:func:`without_controls`); the summary counts the name cells so changed. An artist left
without a name (its name cells empty, unreadable or only control characters) is skipped with its
tracks, and counted.

This module stays whole (a little under 400 lines): the three layouts share one canonical track
frame, one typed-column table and one summary, which read best next to each other.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Mapping
from functools import reduce

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from jobs.common import schemas
from jobs.common.errors import ConfigError

log = logging.getLogger(__name__)

SOURCE = "tracks-csv"
FEATURES = [field.name for field in schemas.AUDIO_FEATURES.fields if field.name not in ("track_id", "source")]
KINDS = {field.name: field.dataType.typeName() for field in schemas.AUDIO_FEATURES.fields}
LAYOUTS = {"tracks_features": "artist_ids", "tracks_600k": "id_artists", "tidytuesday": "track_artist"}
MAX_LIST_CELL = 10_000  # characters; a longer list cell is not parsed (deep nesting, memory)
# TidyTuesday columns and the other names copies of the file give them (first match wins).
TIDY_COLUMNS = {
    "track_id": ("track_id", "id"),
    "track_name": ("track_name", "name", "title", "song"),
    "track_artist": ("track_artist", "artist_name", "artist"),
    "track_popularity": ("track_popularity", "popularity"),
    "track_album_name": ("track_album_name", "album_name", "album"),
    "track_album_release_date": ("track_album_release_date", "release_date"),
    "playlist_genre": ("playlist_genre", "genre"),
    "playlist_subgenre": ("playlist_subgenre", "subgenre"),
}
_DATE_FORMATS = ("d-M-yyyy", "d.M.yyyy", "yyyy/M/d", "M/d/yyyy", "d/M/yyyy")
_ID_HEX = 22
# Java regular expressions (Spark's): the control characters (C0, DEL, C1), and those of them that space
# words (tab, line and page breaks, the information separators, NEL: what Python's str.split splits at).
CONTROLS = "[\\x00-\\x1F\\x7F-\\x9F]"
SPACING_CONTROLS = "[\\t\\n\\x0B\\f\\r\\x1C-\\x1F\\x85]"


@F.pandas_udf(ArrayType(StringType()))
def parse_list(texts):
    """``"['a', \\"b's\\"]"`` -> ``["a", "b's"]``; an empty cell -> ``[]``; anything unreadable -> null.

    Unreadable: not a list or tuple of strings and numbers, longer than :data:`MAX_LIST_CELL`
    characters, or failing to parse in any way (syntax, unhashable keys, nesting, memory).
    """

    def one(text):
        if text is None or (isinstance(text, str) and not text.strip()):
            return []
        if not isinstance(text, str) or len(text) > MAX_LIST_CELL or not text.lstrip().startswith(("[", "(")):
            return None
        try:
            value = ast.literal_eval(text.strip())
        except Exception:  # SyntaxError, ValueError, TypeError (unhashable), RecursionError, MemoryError
            return None
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, int, float)) for v in value):
            return None
        return [str(item) for item in value]

    return texts.map(one)


def has_controls(text: Column) -> Column:
    """True where ``text`` holds a control character (:data:`CONTROLS`); null for null."""
    return text.rlike(CONTROLS)


def without_controls(text: Column) -> Column:
    """A name without control characters: tabs and line breaks (:data:`SPACING_CONTROLS`) become spaces,
    the others (NUL, bell, escape...) are taken out, and the ends are trimmed; a name made only of them
    becomes null. A name without any is left as it is (spaces included); null stays null."""
    spaced = F.regexp_replace(text, SPACING_CONTROLS, " ")
    cleaned = F.trim(F.regexp_replace(spaced, CONTROLS, ""))
    return F.when(has_controls(text), F.nullif(cleaned, F.lit(""))).otherwise(text)


def read_csv(spark: SparkSession, path: str) -> DataFrame:
    from pyspark.errors import AnalysisException

    try:
        frame = (
            spark.read.option("header", True)
            .option("multiLine", True)
            .option("escape", '"')
            .option("mode", "PERMISSIVE")
            .csv(path)
        )
    except AnalysisException as exc:
        raise ConfigError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    # Headers vary between copies: compare them trimmed and lower-cased.
    return frame.toDF(*[c.strip().lower() for c in frame.columns])


def detect_layout(columns: list[str]) -> str:
    for layout, marker in LAYOUTS.items():
        if marker in columns:
            return layout
    if _tidy_column(columns, "track_artist") and _tidy_column(columns, "playlist_genre"):
        return "tidytuesday"
    raise ConfigError(
        f"tracks file has neither an 'artist_ids' column (1.2M songs layout), 'id_artists' "
        f"(600k tracks layout) nor 'track_artist' (TidyTuesday spotify_songs.csv); "
        f"its columns: {', '.join(columns[:30])}"
    )


def _tidy_column(columns: list[str], name: str) -> str | None:
    return next((c for c in TIDY_COLUMNS[name] if c in columns), None)


def derived_id(text: Column) -> Column:
    """A 22-character id from a name: the first hex digits of the SHA-256 of its trimmed, lower-cased form."""
    return F.substring(F.sha2(F.lower(F.trim(text)), 256), 1, _ID_HEX)


def canonical_tracks(raw: DataFrame) -> DataFrame:
    """Any layout as one: ``id, name, album, popularity, release_date, duration_ms, <features>`` (as read;
    ``name`` :func:`without_controls`), ``_artist_ids``, ``_artist_names`` (arrays, names without controls),
    ``_genres`` (array or null), ``_unreadable_lists`` (int), ``_controlled_names`` (int: the row's name cells
    that held control characters)."""
    if "_artist_ids" in raw.columns:
        return raw
    layout = detect_layout(raw.columns)
    if layout == "tidytuesday":
        return _canonical_tidy(raw)
    missing = {"id", "name", "artists"} - set(raw.columns)
    if missing:
        raise ConfigError(f"the tracks file lacks the column(s) {', '.join(sorted(missing))}")
    # A NUL makes a Python literal unreadable: taken out of the cell's text first, then out of each name
    # (an escape such as \x00 in the literal reads as a control character).
    ids, names = parse_list(F.col(LAYOUTS[layout])), parse_list(without_controls(F.col("artists")))
    unreadable = F.col("_ids").isNull().cast("int") + F.col("_names").isNull().cast("int")
    controlled = F.coalesce(has_controls(F.col("artists")) | F.exists("_names", has_controls), F.lit(False)).cast(
        "int"
    ) + _controlled(raw, "name")
    empty = F.array().cast("array<string>")
    return (
        raw.withColumn("_ids", ids)
        .withColumn("_names", names)
        .select(
            _optional(raw, "id"),
            _name(raw, "name"),
            *[_optional(raw, c) for c in ("album", "popularity", "release_date")],
            *[_optional(raw, f) for f in FEATURES],
            F.coalesce("_ids", empty).alias("_artist_ids"),
            F.coalesce(F.transform("_names", without_controls), empty).alias("_artist_names"),
            F.lit(None).cast("array<string>").alias("_genres"),
            unreadable.alias("_unreadable_lists"),
            controlled.alias("_controlled_names"),
        )
    )


def _optional(raw: DataFrame, name: str, source: str | None = None) -> Column:
    """Column ``source`` as ``name``; a null column marked absent when the file has no such column."""
    source = source or name
    if source in raw.columns:
        return F.col(source).alias(name)
    return F.lit(None).cast("string").alias(name, metadata={"absent": True})


def _name(raw: DataFrame, name: str, source: str | None = None) -> Column:
    """Column ``source`` as ``name``, :func:`without_controls` (absent as in :func:`_optional`)."""
    source = source or name
    if source in raw.columns:
        return without_controls(F.col(source)).alias(name)
    return _optional(raw, name, source)


def _controlled(raw: DataFrame, source: str | None) -> Column:
    """1 where the cell of column ``source`` holds a control character, else 0 (0 when there is no such column)."""
    if source is None or source not in raw.columns:
        return F.lit(0)
    return F.coalesce(has_controls(F.col(source)), F.lit(False)).cast("int")


def absent_columns(tracks: DataFrame) -> list[str]:
    """Columns of :func:`canonical_tracks` that the file did not have."""
    return [f.name for f in tracks.schema.fields if f.metadata.get("absent")]


def _canonical_tidy(raw: DataFrame) -> DataFrame:
    cols = {name: _tidy_column(raw.columns, name) for name in TIDY_COLUMNS}
    artist = F.trim(without_controls(F.col(cols["track_artist"])))
    has_artist = artist.isNotNull() & (F.length(artist) > 0)
    album = F.col(cols["track_album_name"]) if cols["track_album_name"] else F.lit("")
    track_id = (
        F.col(cols["track_id"])
        if cols["track_id"]
        else derived_id(F.concat_ws("\u0001", F.col(cols["track_name"]), artist, album))
    )
    genres = [F.lower(F.trim(F.col(cols[g]))) for g in ("playlist_genre", "playlist_subgenre") if cols[g]]
    return raw.select(
        track_id.alias("id"),
        _name(raw, "name", cols["track_name"]),
        _optional(raw, "album", cols["track_album_name"]),
        _optional(raw, "popularity", cols["track_popularity"]),
        _optional(raw, "release_date", cols["track_album_release_date"]),
        *[_optional(raw, f) for f in FEATURES],
        F.when(has_artist, F.array(derived_id(artist))).otherwise(F.array().cast("array<string>")).alias("_artist_ids"),
        F.when(has_artist, F.array(artist)).otherwise(F.array().cast("array<string>")).alias("_artist_names"),
        F.filter(F.array(*genres), lambda g: g.isNotNull() & (F.length(g) > 0)).alias("_genres"),
        F.lit(0).alias("_unreadable_lists"),
        (_controlled(raw, cols["track_name"]) + _controlled(raw, cols["track_artist"])).alias("_controlled_names"),
    )


def track_artists(tracks: DataFrame) -> DataFrame:
    """One row per (track, listed artist): ``track_id, artist_id, artist_name`` (tracks from :func:`canonical_tracks`)."""
    pairs = F.arrays_zip(F.col("_artist_ids").alias("id"), F.col("_artist_names").alias("name"))
    return (
        tracks.select(F.col("id").alias("track_id"), F.explode(pairs).alias("a"))
        .select("track_id", F.col("a.id").alias("artist_id"), F.col("a.name").alias("artist_name"))
        .where(F.col("artist_id").isNotNull() & (F.length("artist_id") > 0))
    )


def _int(name: str) -> Column:
    return _double(name).try_cast("int")


def _double(name: str) -> Column:
    return F.col(name).try_cast("double")


def read_date(column: Column) -> Column:
    """A date from the common written forms: ISO (``2001``, ``2001-05``, ``2001-05-03``), day first with
    ``-`` or ``.`` (``03-05-2001``), ``2001/05/03``, and with ``/`` month first (US) unless the first
    number cannot be a month (``25/05/2001`` is day first); a value matching none of them is null."""
    text = F.trim(column)
    return F.coalesce(
        text.try_cast("date"), *[F.try_to_timestamp(text, F.lit(form)).cast("date") for form in _DATE_FORMATS]
    )


def typed_columns() -> dict[str, Column]:
    """Each column read from text, by name: what the lake gets (before renaming)."""
    typed = {"popularity": _int("popularity"), "release_date": read_date(F.col("release_date"))}
    typed.update({f: (_int(f) if KINDS[f] == "integer" else _double(f)) for f in FEATURES})
    return typed


def lake_tables(tracks: DataFrame, artists_csv: DataFrame | None, max_tracks: int) -> dict[str, DataFrame]:
    """The three lake tables from a tracks file (and the 600k layout's artists file); an artist without a
    name (:func:`listed_artists`) is left out of both ``artists`` and ``top_tracks``."""
    every_row = canonical_tracks(tracks)
    tracks = _kept(every_row)
    typed = typed_columns()
    track_info = tracks.select(
        F.col("id").alias("track_id"),
        "name",
        F.col("album").alias("album_name"),
        typed["popularity"].alias("popularity"),
        typed["duration_ms"].alias("duration_ms"),
        typed["release_date"].alias("release_date"),
        F.struct(*[typed[f].alias(f) for f in FEATURES]).alias("audio_features"),
    )
    pairs = track_artists(tracks)
    artists = listed_artists(every_row, pairs, artists_csv).where(F.col("name").isNotNull())
    order = Window.partitionBy("artist_id").orderBy(
        F.col("popularity").desc_nulls_last(), F.col("release_date").desc_nulls_last(), "track_id"
    )
    # An artist listed twice on one track gets it once (the lake's key is artist_id, track_id).
    top = (
        pairs.join(artists.select("artist_id"), "artist_id", "left_semi")
        .join(track_info, "track_id")
        .dropDuplicates(["artist_id", "track_id"])
        .withColumn("rank", F.row_number().over(order))
        .where(F.col("rank") <= max_tracks)
    )
    top_tracks = top.select(
        "artist_id",
        "track_id",
        F.col("rank").cast("int"),
        "name",
        "album_name",
        F.lit(None).cast("string").alias("album_image_url"),
        "popularity",
        "duration_ms",
        F.concat(F.lit("https://open.spotify.com/track/"), "track_id").alias("spotify_url"),
        F.lit(SOURCE).alias("source"),
        "release_date",
        "audio_features",
    )
    artists = artists.join(top_tracks.select("artist_id").distinct(), "artist_id", "left_semi").select(
        "artist_id",
        "name",
        "genres",
        "popularity",
        "followers",
        F.lit(None).cast("string").alias("image_url"),
        F.concat(F.lit("https://open.spotify.com/artist/"), "artist_id").alias("spotify_url"),
        F.lit(SOURCE).alias("source"),
    )

    features = tracks.select(
        F.col("id").alias("track_id"), *[typed[f].alias(f) for f in FEATURES], F.lit(SOURCE).alias("source")
    )
    return {
        "artists": artists.select(*schemas.ARTISTS.fieldNames()),
        "top_tracks": top_tracks.select(*schemas.TOP_TRACKS_WITH_AUDIO.fieldNames()),
        "audio_features": features.select(*schemas.AUDIO_FEATURES.fieldNames()),
    }


def _kept(every_row: DataFrame) -> DataFrame:
    """The tracks kept of :func:`canonical_tracks`' rows: those with an id, each id once."""
    return every_row.where(F.col("id").isNotNull()).dropDuplicates(["id"])


def listed_artists(every_row: DataFrame, pairs: DataFrame, artists_csv: DataFrame | None) -> DataFrame:
    """``artist_id, name, genres, popularity, followers`` of each artist in ``pairs`` (:func:`track_artists`
    of the kept rows of ``every_row``): named by ``artists_csv`` (the 600k layout) where it has a name, else
    by the least of the names the tracks list it under; ``name`` is null where neither gives one (names
    empty, unreadable, or only control characters: such an artist is skipped)."""
    listed = pairs.groupBy("artist_id").agg(F.min(F.nullif(F.col("artist_name"), F.lit(""))).alias("listed_name"))
    no_info = {
        "genres": F.lit(None).cast("array<string>"),
        "popularity": F.lit(None).cast("int"),
        "followers": F.lit(None).cast("long"),
    }
    if artists_csv is not None:
        info = artists_csv.select(
            F.col("id").alias("artist_id"),
            without_controls(F.col("name")).alias("name"),
            F.coalesce(parse_list(F.col("genres")), F.array().cast("array<string>")).alias("genres"),
            _int("popularity").alias("popularity"),
            _double("followers").try_cast("long").alias("followers"),
        )
        return listed.join(info.dropDuplicates(["artist_id"]), "artist_id", "left").select(
            "artist_id",
            F.coalesce(F.nullif(F.col("name"), F.lit("")), "listed_name").alias("name"),
            "genres",
            "popularity",
            "followers",
        )
    if "_genres" in every_row.columns:
        # TidyTuesday: an artist's genres are those of every row naming it, repeated tracks included.
        genres = (
            every_row.select(F.explode("_artist_ids").alias("artist_id"), "_genres")
            .select("artist_id", F.explode_outer("_genres").alias("g"))
            .groupBy("artist_id")
            .agg(F.array_sort(F.collect_set("g")).alias("tagged"))
        )
        return listed.join(genres, "artist_id", "left").select(
            "artist_id",
            F.col("listed_name").alias("name"),
            F.when(F.size("tagged") > 0, F.col("tagged")).alias("genres"),
            no_info["popularity"].alias("popularity"),
            no_info["followers"].alias("followers"),
        )
    return listed.select(
        "artist_id", F.col("listed_name").alias("name"), *[value.alias(name) for name, value in no_info.items()]
    )


def file_summary(tracks: DataFrame, artists_csv: DataFrame | None = None) -> dict:
    """What a tracks file holds: its rows, the ones skipped (no id, an id seen before), unreadable
    list cells, and among the tracks kept, those linked to no artist, those with a missing or
    unreadable feature, and per column the values that did not read as its type (``nulled``); the
    artists skipped for want of a name (``nameless_artists``), and the name cells of both files that held
    control characters (``controlled_names``)."""
    tracks = canonical_tracks(tracks)
    whole = tracks.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col("id").isNull()).alias("without_id"),
        F.countDistinct("id").alias("ids"),
        F.coalesce(F.sum("_unreadable_lists"), F.lit(0)).alias("unreadable_lists"),
        F.coalesce(F.sum("_controlled_names"), F.lit(0)).alias("controlled_names"),
    ).first()
    controlled = int(whole.controlled_names)
    if artists_csv is not None and "name" in artists_csv.columns:
        controlled += artists_csv.where(has_controls(F.col("name"))).count()
    kept_rows = _kept(tracks)
    nameless = listed_artists(tracks, track_artists(kept_rows), artists_csv).where(F.col("name").isNull()).count()
    linked = F.size(F.filter("_artist_ids", lambda artist_id: F.length(artist_id) > 0)) > 0
    typed = typed_columns()
    absent = absent_columns(tracks)
    gap = reduce(lambda a, b: a | b, [typed[f].isNull() for f in FEATURES if f not in absent] or [F.lit(False)])

    def nulled(name: str) -> Column:  # text was there, the typed value is null
        return F.count_if(F.col(name).isNotNull() & (F.length(F.trim(name)) > 0) & typed[name].isNull())

    kept = (
        kept_rows.agg(
            F.count_if(~linked).alias("without_artists"),
            F.count_if(gap).alias("feature_gaps"),
            *[nulled(name).alias(name) for name in typed],
        )
        .first()
        .asDict()
    )
    return {
        "rows": whole.rows,
        "without_id": whole.without_id,
        "duplicate_ids": whole.rows - whole.without_id - whole.ids,
        "unreadable_lists": int(whole.unreadable_lists),
        "without_artists": kept.pop("without_artists") or 0,
        "feature_gaps": kept.pop("feature_gaps") or 0,
        "nulled": {name: count for name, count in kept.items() if count},
        "absent": absent,
        "nameless_artists": nameless,
        "controlled_names": controlled,
    }


def summary_line(found: Mapping) -> str:
    nulled = ", ".join(f"{name} {count}" for name, count in found["nulled"].items()) or "none"
    absent = ", ".join(found.get("absent") or []) or "none"
    return (
        "tracks-csv summary: {rows} rows in the file (columns it lacks, null throughout: {absent}); "
        "skipped: {without_id} without an id, {duplicate_ids} "
        "repeating an id; unreadable list cells (read as empty): {unreadable_lists}; not linked to any artist "
        "(artist list empty or unreadable): {without_artists}; kept with null features: {feature_gaps} "
        "(a missing or unreadable value); values that did not read as their column's type, made null: "
        "{nulled}; artists skipped without a name (empty, unreadable, or only control characters): "
        "{nameless_artists}; name cells with control characters (taken out): {controlled_names}"
    ).format(**{**found, "nulled": nulled, "absent": absent})


def read_tracks_csv(spark: SparkSession, options: Mapping) -> dict[str, DataFrame]:
    """``[tracks_csv]``: ``tracks`` (required), ``artists`` (optional), ``max_tracks`` (10)."""
    path = str(options.get("tracks", "") or "")
    if not path:
        raise ConfigError("tracks-csv needs a file: --tracks FILE or tracks_csv.tracks")
    raw = read_csv(spark, path)
    try:
        tracks = canonical_tracks(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    artists_path = str(options.get("artists", "") or "")
    artists = read_csv(spark, artists_path) if artists_path else None
    # Parsed once (a multi-line CSV is read by one task) for the summary and the three tables.
    tracks = tracks.persist(StorageLevel.MEMORY_AND_DISK)
    found = file_summary(tracks, artists)
    tables = lake_tables(tracks, artists, int(options.get("max_tracks", 10)))
    log.info("%s", summary_line(found))
    return tables
