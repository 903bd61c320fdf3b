"""Lake-shaped test data for mart publishes, whose expected answers are known by construction.

Artist ``i`` of ``n`` (id ``ar0000042``, name ``Artist 42``) is related to ``(i + o) % n`` for
each offset ``o`` of its generation; every text a generation writes carries its tag, so a reader
can tell which publish an answer came from.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.publish.frames import MartFrames, mart_frames
from mart import serving

GENERATIONS = {"A": (1, 2, 3), "B": (5, 7, 11)}


def artist_id(i: int) -> str:
    return f"ar{i:07d}"


def _id(column) -> F.Column:
    return F.concat(F.lit("ar"), F.lpad(column.cast("string"), 7, "0"))


def lake_tables(spark: SparkSession, n: int, tag: str, tracks: int = 4) -> dict[str, DataFrame]:
    """``artists``, ``top_tracks`` and ``related_artists`` of generation ``tag`` (lake layout)."""
    offsets = GENERATIONS[tag]
    ids = spark.range(n).withColumnRenamed("id", "i")
    artists = ids.select(
        _id(F.col("i")).alias("artist_id"),
        F.concat(F.lit("Artist "), F.col("i").cast("string")).alias("name"),
        F.array(F.concat(F.lit("genre "), (F.col("i") % 7).cast("string"))).alias("genres"),
        (F.col("i") % 101).cast("int").alias("popularity"),
        F.col("i").alias("followers"),
        F.concat(F.lit(f"https://img.test/{tag}/"), F.col("i").cast("string")).alias("image_url"),
        F.concat(F.lit("https://open.spotify.test/artist/"), F.col("i").cast("string")).alias("spotify_url"),
        F.lit("test").alias("source"),
    )
    top_tracks = ids.crossJoin(spark.range(1, tracks + 1).withColumnRenamed("id", "t")).select(
        _id(F.col("i")).alias("artist_id"),
        F.concat(F.lit("tr"), F.col("i").cast("string"), F.lit("_"), F.col("t").cast("string")).alias("track_id"),
        F.col("t").cast("int").alias("rank"),
        F.concat(F.lit(f"{tag} song "), F.col("t").cast("string"), F.lit(" of "), F.col("i").cast("string")).alias(
            "name"
        ),
        F.lit(f"{tag} album").alias("album_name"),
        F.lit(f"https://img.test/{tag}/album").alias("album_image_url"),
        F.lit(None).cast("int").alias("popularity"),
        F.lit(200000).alias("duration_ms"),
        F.lit(None).cast("string").alias("spotify_url"),
        F.lit("test").alias("source"),
    )
    related = ids.crossJoin(
        spark.createDataFrame([(r + 1, o) for r, o in enumerate(offsets)], "rank int, o long")
    ).select(
        _id(F.col("i")).alias("artist_id"),
        "rank",
        _id((F.col("i") + F.col("o")) % n).alias("related_id"),
        (F.col("o") / 100).alias("distance"),
    )
    return {"artists": artists, "top_tracks": top_tracks, "related_artists": related}


def frames(spark: SparkSession, n: int, tag: str, tracks_per_artist: int = 3) -> MartFrames:
    tables = lake_tables(spark, n, tag)
    return mart_frames(tables["artists"], tables["top_tracks"], tables["related_artists"], None, tracks_per_artist)


def expected_related(i: int, n: int, tag: str) -> list[str]:
    return [artist_id((i + o) % n) for o in GENERATIONS[tag]]


def answer_problems(cards, i: int, n: int) -> list[str]:
    """What is wrong with a reader's answer for ``Artist i`` (empty list: a whole answer of one generation)."""
    if not cards:
        return [f"Artist {i}: no answer"]
    problems = []
    tags = {card.image_url.split("/")[3] if card.image_url else None for card in cards}
    tags |= {track.name.split(" ")[0] for card in cards for track in card.tracks}
    if len(tags) != 1 or None in tags:
        return [f"Artist {i}: rows of several publishes or missing rows: {sorted(map(str, tags))}"]
    tag = tags.pop()
    if cards[0].artist_id != artist_id(i):
        problems.append(f"Artist {i}: answered {cards[0].artist_id}")
    related = [card.artist_id for card in cards[1:]]
    if related != expected_related(i, n, tag):
        problems.append(f"Artist {i}: related {related}, generation {tag} has {expected_related(i, n, tag)}")
    if any(card.name is None for card in cards):
        problems.append(f"Artist {i}: a related artist is missing from artists")
    if any(len(card.tracks) != 3 for card in cards):
        problems.append(f"Artist {i}: cards without 3 tracks")
    return problems


def tables(mart) -> set[str]:
    """The names of the tables in a mart under test (``MartUnderTest``), read the way readers connect."""
    conn = mart.reader()
    try:
        if mart.dialect == "sqlite":
            rows = serving.fetch_all(conn, "SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = serving.fetch_all(
                conn, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
            )
        return {str(name) for (name,) in rows}
    finally:
        conn.close()
