"""The alternative listening signal: artist embeddings from Spark ML's ALS (implicit feedback), searched
exactly.

Contexts become users (numbered by their id's order), artists items, and each (context, artist) weight
``log1p(weight)`` an implicit rating. ALS (seeded) learns ``rank`` factors per artist; the factors of
the artists in at least ``min_contexts`` contexts are scaled to unit length and each artist's ``m``
nearest by cosine are found by the project's exact neighbour search (ties by id, as for sound). The
rows have the layout of :func:`jobs.transform.listeners.listened_candidates`: ``similarity`` is
``1 - cosine distance`` (0 at least) and ``distance`` the pair's sound distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.transform.metrics import distance_array
from jobs.transform.neighbours import neighbours_from_arrays


@dataclass(frozen=True)
class AlsOptions:
    rank: int = 32
    iterations: int = 10
    regularization: float = 0.1
    alpha: float = 10.0
    min_contexts: int = 5
    seed: int = 7


def als_candidates(
    spark: SparkSession,
    contexts: DataFrame,
    ids: pa.Array,
    points: np.ndarray,
    metric: str,
    m: int,
    options: AlsOptions = AlsOptions(),
) -> DataFrame:
    """``artist_id, rank, related_id, similarity, distance`` from ALS embeddings (see the module)."""
    from pyspark.ml.recommendation import ALS

    from jobs.transform.listeners import numbered

    items = contexts.where(F.col("weight") > 0).join(numbered(spark, ids), "artist_id")
    ordered = items.select("context_id").distinct().orderBy("context_id").toArrow().column("context_id")
    users = spark.createDataFrame(
        pa.table({"context_id": ordered.cast(pa.string()), "user": pa.array(np.arange(len(ordered), dtype=np.int32))}),
        "context_id string, user int",
    )
    ratings = items.join(users, "context_id").groupBy("user", "item").agg(F.log1p(F.sum("weight")).alias("rating"))
    known = (
        items.groupBy("item")
        .agg(F.countDistinct("context_id").alias("n"))
        .where(F.col("n") >= options.min_contexts)
        .select("item")
    )
    model = ALS(
        rank=options.rank,
        maxIter=options.iterations,
        regParam=options.regularization,
        alpha=options.alpha,
        implicitPrefs=True,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        seed=options.seed,
        nonnegative=False,
        coldStartStrategy="drop",
    ).fit(ratings)
    factors = model.itemFactors.join(known.withColumnRenamed("item", "id"), "id").orderBy("id").toArrow()
    item = factors.column("id").to_numpy().astype(np.int64)
    if len(item) < 2:
        return spark.createDataFrame(
            [], "artist_id string, rank int, related_id string, similarity double, distance double"
        )
    vectors = np.array(factors.column("features").to_pylist(), dtype=np.float64)
    norms = np.sqrt((vectors * vectors).sum(axis=1))
    unit = np.divide(vectors, norms[:, None], out=np.zeros_like(vectors), where=norms[:, None] > 0)
    found = neighbours_from_arrays(
        spark, pa.array(item.astype(str)), unit, k=min(m, len(item) - 1), metric="cosine"
    ).toArrow()
    query = np.array(found.column("artist_id").to_pylist(), dtype=np.int64)
    other = np.array(found.column("related_id").to_pylist(), dtype=np.int64)
    similarity = np.maximum(0.0, 1.0 - found.column("distance").to_numpy())
    out = pa.table(
        {
            "artist_id": ids.take(pa.array(query)).cast(pa.string()),
            "rank": found.column("rank"),
            "related_id": ids.take(pa.array(other)).cast(pa.string()),
            "similarity": pa.array(similarity, pa.float64()),
            "distance": pa.array(distance_array(metric, points[query], points[other]), pa.float64()),
        }
    )
    return spark.createDataFrame(
        out, "artist_id string, rank int, related_id string, similarity double, distance double"
    )
