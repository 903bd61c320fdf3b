"""Column layouts of the lake tables (docs/design.md, "Lake tables").

``dt`` is not listed: the lake adds it on write. Built from type objects, so
importing this module needs no running Spark.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pyspark.sql.types import (
    ArrayType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)


def _struct(*columns: tuple[str, DataType]) -> StructType:
    return StructType([StructField(name, kind, nullable=True) for name, kind in columns])


ARTISTS = _struct(
    ("artist_id", StringType()),
    ("name", StringType()),
    ("genres", ArrayType(StringType())),
    ("popularity", IntegerType()),
    ("followers", LongType()),
    ("image_url", StringType()),
    ("spotify_url", StringType()),
    ("source", StringType()),
)

TOP_TRACKS = _struct(
    ("artist_id", StringType()),
    ("track_id", StringType()),
    ("rank", IntegerType()),
    ("name", StringType()),
    ("album_name", StringType()),
    ("album_image_url", StringType()),
    ("popularity", IntegerType()),
    ("duration_ms", IntegerType()),
    ("spotify_url", StringType()),
    ("source", StringType()),
    # The release date of the track's album where the source has it (a year alone reads as 1 January).
    ("release_date", DateType()),
)

# A track's audio features on its top_tracks row (every field null when the source had none for it). The
# whole struct is null only in snapshots written before features were stored on the track rows; from then
# on a top_tracks snapshot also holds one row per (artist_id, track_id), so that the similarity job needs
# neither a join nor a de-duplication (jobs/transform/signals.py).
TRACK_AUDIO = _struct(
    ("danceability", DoubleType()),
    ("energy", DoubleType()),
    ("key", IntegerType()),
    ("loudness", DoubleType()),
    ("mode", IntegerType()),
    ("speechiness", DoubleType()),
    ("acousticness", DoubleType()),
    ("instrumentalness", DoubleType()),
    ("liveness", DoubleType()),
    ("valence", DoubleType()),
    ("tempo", DoubleType()),
    ("duration_ms", IntegerType()),
    ("time_signature", IntegerType()),
)

# What the sources write: TOP_TRACKS and the track's audio features.
TOP_TRACKS_WITH_AUDIO = StructType([*TOP_TRACKS.fields, StructField("audio_features", TRACK_AUDIO, nullable=True)])

AUDIO_FEATURES = _struct(
    ("track_id", StringType()),
    ("danceability", DoubleType()),
    ("energy", DoubleType()),
    ("key", IntegerType()),
    ("loudness", DoubleType()),
    ("mode", IntegerType()),
    ("speechiness", DoubleType()),
    ("acousticness", DoubleType()),
    ("instrumentalness", DoubleType()),
    ("liveness", DoubleType()),
    ("valence", DoubleType()),
    ("tempo", DoubleType()),
    ("duration_ms", IntegerType()),
    ("time_signature", IntegerType()),
    ("source", StringType()),
)

RELATED_ARTISTS = _struct(
    ("artist_id", StringType()), ("rank", IntegerType()), ("related_id", StringType()), ("distance", DoubleType())
)

# What the similarity job writes: RELATED_ARTISTS and why each related artist was chosen (REASONS). A
# snapshot written before the blend with listening data has no reason: every row there is "sound".
REASONS = ("sound", "listeners", "both")
RELATED_ARTISTS_WITH_REASON = StructType([*RELATED_ARTISTS.fields, StructField("reason", StringType(), nullable=True)])

# Listening data: one row per (context, artist). A context is one listener, one playlist or one chat user;
# ``context_id`` is an HMAC of the source's id wherever that id names a person. ``weight`` is the
# source's measure of how much the context holds the artist (plays, tracks in the playlist, asks).
ARTIST_CONTEXTS = _struct(
    ("context_id", StringType()), ("artist_id", StringType()), ("weight", DoubleType()), ("source", StringType())
)

# Optional: other spellings of artist names (e.g. Korean), published to the mart's artist_aliases.
ARTIST_ALIASES = _struct(("artist_id", StringType()), ("alias", StringType()), ("source", StringType()))

# Names an ingest looked for and could not find (seeds, or the chatbot's requests), per dt.
UNRESOLVED_NAMES = _struct(("name", StringType()), ("origin", StringType()), ("source", StringType()))

LAKE_TABLES = {
    "artists": ARTISTS,
    "top_tracks": TOP_TRACKS_WITH_AUDIO,
    "audio_features": AUDIO_FEATURES,
    "related_artists": RELATED_ARTISTS_WITH_REASON,
    "artist_aliases": ARTIST_ALIASES,
    "unresolved_names": UNRESOLVED_NAMES,
    "artist_contexts": ARTIST_CONTEXTS,
}


def arrow_schema(schema: StructType):
    """The Arrow schema that Spark's ``mapInArrow`` expects for ``schema``."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema)


def local_frame(spark, rows: Iterable[Sequence], schema: StructType | str):
    """``rows`` (tuples in ``schema``'s column order) as a DataFrame built through Arrow on the driver.

    ``schema`` is a StructType or, as for ``createDataFrame``, a DDL string (``"name string, n int"``).

    Each row is verified against ``schema`` as ``createDataFrame`` verifies a list (same errors). Unlike
    a DataFrame of a Python list, whose every action runs a Spark job to unpickle the rows, a small
    one is kept in the query plan (under ``spark.sql.execution.arrow.localRelationThreshold``, 48 MB
    by default): reading it back needs no job. A larger one is distributed like any other.
    """
    import pyarrow as pa
    from pyspark.sql.types import _make_type_verifier

    if isinstance(schema, str):
        schema = StructType.fromDDL(schema)
    verify = _make_type_verifier(schema)
    rows = list(rows)
    for row in rows:
        verify(row)
    columns = arrow_schema(schema)
    table = pa.Table.from_arrays(
        [pa.array([row[i] for row in rows], type=field.type) for i, field in enumerate(columns)], schema=columns
    )
    return spark.createDataFrame(table, schema)
