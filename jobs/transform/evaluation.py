"""How good related artists are, measured against genres the similarity job never saw.

Pure functions over ``related`` (``artist_id, rank, related_id, distance``) and the snapshot's
``artists`` (``artist_id, genres, popularity``); each returns a small DataFrame or a dict.

* **genre precision@k**: over the query artists that have genres, the share of their related
  artists (rank <= k) that share at least one genre with them. A related artist without genres
  shares none.
* **random baseline**: the same share for ``draws`` artists drawn per query, uniformly among the
  other artists of the pool (seeded hashes: deterministic).
* **genre-popularity baseline**: one list for everyone, the k artists whose genres are the most
  common in the pool (largest sum of genre frequencies, then artist_id): what knowing only which
  genres are popular gives.
* **coverage**, **hubness** (in-degree: max, p99, skew), **distances** (quantiles, histogram),
  **popularity gap** (related minus query), **co-credited share** (pairs sharing a top track).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType


def genre_table(artists: DataFrame) -> DataFrame:
    """``artist_id, genres`` (distinct, lower-cased, sorted; empty when none) and ``popularity``."""
    cleaned = F.array_sort(
        F.array_distinct(
            F.filter(
                F.transform(F.coalesce("genres", F.array().cast("array<string>")), lambda g: F.lower(F.trim(g))),
                lambda g: F.length(g) > 0,
            )
        )
    )
    return (
        artists.where(F.col("artist_id").isNotNull())
        .dropDuplicates(["artist_id"])
        .select("artist_id", cleaned.alias("genres"), F.col("popularity").cast("double").alias("popularity"))
    )


def labelled_pairs(related: DataFrame, genres: DataFrame, k: int) -> DataFrame:
    """Related pairs with rank <= k whose query artist has genres, with ``hit`` (a shared genre)."""
    query = genres.where(F.size("genres") > 0).select(
        "artist_id", F.col("genres").alias("_qg"), F.col("popularity").alias("_qp")
    )
    other = genres.select(
        F.col("artist_id").alias("related_id"), F.col("genres").alias("_rg"), F.col("popularity").alias("_rp")
    )
    return (
        related.where(F.col("rank") <= k)
        .join(query, "artist_id")
        .join(other, "related_id", "left")
        .withColumn("hit", F.coalesce(F.arrays_overlap("_qg", "_rg"), F.lit(False)))
    )


def genre_precision(related: DataFrame, genres: DataFrame, k: int) -> dict:
    """``{"precision", "queries", "pairs"}`` for related artists of rank <= k."""
    row = (
        labelled_pairs(related, genres, k)
        .agg(
            F.avg(F.col("hit").cast("double")).alias("precision"),
            F.countDistinct("artist_id").alias("queries"),
            F.count(F.lit(1)).alias("pairs"),
        )
        .first()
    )
    return {"precision": float(row.precision or 0.0), "queries": int(row.queries), "pairs": int(row.pairs)}


def per_genre_precision(related: DataFrame, genres: DataFrame, k: int, top: int = 20) -> list[dict]:
    """Precision@k of the query artists of each of the ``top`` most common genres, most common first."""
    pairs = labelled_pairs(related, genres, k).select("artist_id", "hit", F.explode("_qg").alias("genre"))
    sizes = genres.select(F.explode("genres").alias("genre")).groupBy("genre").agg(F.count(F.lit(1)).alias("artists"))
    common = sizes.orderBy(F.col("artists").desc(), "genre").limit(top)
    rows = (
        pairs.join(common, "genre")
        .groupBy("genre", "artists")
        .agg(F.avg(F.col("hit").cast("double")).alias("precision"))
        .orderBy(F.col("artists").desc(), "genre")
        .collect()
    )
    return [{"genre": r.genre, "artists": int(r.artists), "precision": float(r.precision)} for r in rows]


def numbered_by_id(frame: DataFrame) -> DataFrame:
    """``artist_id, _i``: the rows of ``frame`` numbered 0, 1, ... in ``artist_id`` order, the numbers that
    ``row_number() OVER (ORDER BY artist_id) - 1`` gives, without that window's move of every row to one
    partition: the rows are sorted (range-partitioned), then numbered by ``zipWithIndex`` (each partition's
    offset, then its rows in order). Kept once numbered (persisted), so every use sees the same numbers."""
    ordered = frame.select("artist_id").orderBy("artist_id")
    indexed = ordered.rdd.zipWithIndex().map(lambda pair: (pair[0][0], pair[1])).persist()
    schema = StructType([ordered.schema["artist_id"], StructField("_i", LongType(), False)])
    return frame.sparkSession.createDataFrame(indexed, schema)


def random_pairs(pool: DataFrame, draws: int, seed: int = 7) -> DataFrame:
    """``artist_id, rank, related_id`` with ``draws`` artists per query drawn uniformly among the others."""
    numbered = numbered_by_id(pool)
    n = numbered.count()
    if n < 2:
        return numbered.select("artist_id", F.lit(1).alias("rank"), F.col("artist_id").alias("related_id")).limit(0)
    draw = numbered.select("artist_id", "_i", F.explode(F.sequence(F.lit(1), F.lit(draws))).alias("rank"))
    # Uniform over the n - 1 others: an offset 1..n-1 from the query's own position.
    offset = F.pmod(F.xxhash64(F.col("artist_id"), F.col("rank"), F.lit(seed)), F.lit(n - 1)) + 1
    picked = draw.withColumn("_j", F.pmod(F.col("_i") + offset, F.lit(n)))
    return picked.join(numbered.select(F.col("_i").alias("_j"), F.col("artist_id").alias("related_id")), "_j").select(
        "artist_id", "rank", "related_id"
    )


def genre_popularity_pairs(pool: DataFrame, genres: DataFrame, k: int) -> DataFrame:
    """The same k artists for every query: those whose genres are the most common in the pool."""
    in_pool = genres.join(pool.select("artist_id"), "artist_id", "left_semi")
    freq = in_pool.select(F.explode("genres").alias("g")).groupBy("g").agg(F.count(F.lit(1)).alias("f"))
    score = (
        in_pool.select("artist_id", F.explode("genres").alias("g"))
        .join(freq, "g")
        .groupBy("artist_id")
        .agg(F.sum("f").alias("score"))
    )
    best = score.orderBy(F.col("score").desc(), "artist_id").limit(k + 1).collect()
    best_ids = [r.artist_id for r in best]
    ranked = (
        F.filter(F.array(*[F.lit(a) for a in best_ids]), lambda b: b != F.col("artist_id"))
        if best_ids
        else F.array().cast("array<string>")
    )
    return pool.select("artist_id", F.posexplode(F.slice(ranked, 1, k)).alias("pos", "related_id")).select(
        "artist_id", (F.col("pos") + 1).alias("rank"), "related_id"
    )


def in_degree(related: DataFrame, pool: DataFrame, k: int) -> DataFrame:
    """``artist_id, times``: how often each pool artist is recommended (0 included)."""
    counts = (
        related.where(F.col("rank") <= k)
        .groupBy(F.col("related_id").alias("artist_id"))
        .agg(F.count(F.lit(1)).alias("times"))
    )
    return (
        pool.select("artist_id")
        .join(counts, "artist_id", "left")
        .select("artist_id", F.coalesce("times", F.lit(0)).alias("times"))
    )


def hubness(related: DataFrame, pool: DataFrame, k: int) -> dict:
    """Coverage (share recommended at least once) and in-degree max, p99, skew; and its histogram."""
    degrees = in_degree(related, pool, k)
    row = degrees.agg(
        F.count(F.lit(1)).alias("n"),
        F.count_if(F.col("times") > 0).alias("covered"),
        F.max("times").alias("max"),
        F.percentile(F.col("times"), 0.99).alias("p99"),
        F.skewness(F.col("times").cast("double")).alias("skew"),
    ).first()
    histogram = {
        int(r.times): int(r.artists) for r in degrees.groupBy("times").agg(F.count(F.lit(1)).alias("artists")).collect()
    }
    return {
        "coverage": row.covered / row.n if row.n else 0.0,
        "in_degree_max": int(row.max or 0),
        "in_degree_p99": float(row.p99 or 0.0),
        "in_degree_skew": float(row.skew or 0.0),
        "in_degree_histogram": dict(sorted(histogram.items())),
    }


def distances(related: DataFrame, k: int, bins: int = 40) -> dict:
    """Quantiles and a histogram of the distances of related pairs (rank <= k)."""
    pairs = related.where(F.col("rank") <= k)
    row = pairs.agg(
        F.min("distance").alias("lo"),
        F.max("distance").alias("hi"),
        F.percentile(F.col("distance"), [0.1, 0.5, 0.9]).alias("q"),
        F.count_if(F.col("distance") == 0.0).alias("zero"),
        F.count(F.lit(1)).alias("n"),
    ).first()
    if not row.n:
        return {"pairs": 0}
    lo, hi = float(row.lo), float(row.hi)
    width = (hi - lo) / bins if hi > lo else 1.0
    counts = {
        int(r.b): int(r.c)
        for r in pairs.select(F.least(F.floor((F.col("distance") - lo) / width), F.lit(bins - 1)).alias("b"))
        .groupBy("b")
        .agg(F.count(F.lit(1)).alias("c"))
        .collect()
    }
    return {
        "pairs": int(row.n),
        "min": lo,
        "p10": row.q[0],
        "median": row.q[1],
        "p90": row.q[2],
        "max": hi,
        "zero_share": row.zero / row.n,
        "histogram_edges": [lo + i * width for i in range(bins + 1)],
        "histogram": [counts.get(i, 0) for i in range(bins)],
    }


def popularity_gap(related: DataFrame, genres: DataFrame, k: int) -> dict:
    """Mean of (related - query) popularity and of its absolute value, over pairs where both are known."""
    query = genres.select("artist_id", F.col("popularity").alias("_qp"))
    other = genres.select(F.col("artist_id").alias("related_id"), F.col("popularity").alias("_rp"))
    gap = (
        related.where(F.col("rank") <= k)
        .join(query, "artist_id")
        .join(other, "related_id")
        .where(F.col("_qp").isNotNull() & F.col("_rp").isNotNull())
        .select((F.col("_rp") - F.col("_qp")).alias("gap"))
    )
    row = gap.agg(F.avg("gap").alias("mean"), F.avg(F.abs("gap")).alias("abs"), F.count(F.lit(1)).alias("n")).first()
    return {
        "pairs": int(row.n),
        "mean": float(row.mean) if row.n else None,
        "mean_abs": float(row.abs) if row.n else None,
    }


def co_credited_share(related: DataFrame, top_tracks: DataFrame, k: int) -> dict:
    """Share of related pairs (rank <= k) credited together on at least one top track, and of those at distance 0."""
    credits = top_tracks.select("artist_id", "track_id").where(F.col("track_id").isNotNull()).distinct()
    shared = (
        credits.alias("a")
        .join(credits.alias("b"), "track_id")
        .where(F.col("a.artist_id") != F.col("b.artist_id"))
        .select(F.col("a.artist_id").alias("artist_id"), F.col("b.artist_id").alias("related_id"))
        .distinct()
        .withColumn("_shared", F.lit(True))
    )
    pairs = related.where(F.col("rank") <= k).join(shared, ["artist_id", "related_id"], "left")
    row = pairs.agg(
        F.count(F.lit(1)).alias("n"),
        F.count_if(F.col("_shared").isNotNull()).alias("shared"),
        F.count_if(F.col("_shared").isNotNull() & (F.col("distance") == 0.0)).alias("zero"),
    ).first()
    return {"share": row.shared / row.n if row.n else 0.0, "at_zero_share": row.zero / row.n if row.n else 0.0}


def precision_of(pairs: DataFrame, genres: DataFrame, k: int) -> float:
    return genre_precision(pairs, genres, k)["precision"]


def evaluate_related(
    related: DataFrame,
    artists: DataFrame,
    top_tracks: DataFrame | None,
    k: int,
    pool: DataFrame | None = None,
    draws: int = 20,
    top_genres: int = 20,
) -> dict:
    """Every figure for one set of related artists; ``pool`` (``artist_id``) = the artists with a vector."""
    related = related.select("artist_id", "rank", "related_id", "distance").cache()
    genres = genre_table(artists).cache()
    pool = pool if pool is not None else related.select("artist_id").distinct()
    figures = {
        "k": k,
        "artists_with_vector": pool.count(),
        **{f"genre_{key}": value for key, value in genre_precision(related, genres, k).items()},
    }
    figures["random_precision"] = precision_of(random_pairs(pool, draws), genres, draws)
    figures["genre_popularity_precision"] = precision_of(genre_popularity_pairs(pool, genres, k), genres, k)
    figures["per_genre"] = per_genre_precision(related, genres, k, top_genres)
    figures.update(hubness(related, pool, k))
    figures["distances"] = distances(related, k)
    figures["popularity_gap"] = popularity_gap(related, genres, k)
    if top_tracks is not None:
        figures["co_credited"] = co_credited_share(related, top_tracks, k)
    related.unpersist()
    genres.unpersist()
    return figures


def most_common_genre(artists: DataFrame, pool: DataFrame) -> DataFrame:
    """``artist_id, genre``: each artist's genre that is most common in the pool (for colouring maps)."""
    genres = genre_table(artists).join(pool.select("artist_id"), "artist_id", "left_semi")
    exploded = genres.select("artist_id", F.explode("genres").alias("genre"))
    freq = exploded.groupBy("genre").agg(F.count(F.lit(1)).alias("f"))
    best = Window.partitionBy("artist_id").orderBy(F.col("f").desc(), "genre")
    return (
        exploded.join(freq, "genre")
        .withColumn("_r", F.row_number().over(best))
        .where(F.col("_r") == 1)
        .select("artist_id", "genre")
    )
