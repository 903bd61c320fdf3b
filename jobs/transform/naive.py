"""The naive reference: every pair of artists, then the k best per artist.

``crossJoin`` + window ``row_number() <= k`` materializes n(n-1) pairs: fine
for tests and for the benchmark's baseline, never for production.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.transform.metrics import check_metric, distance_column


def naive_neighbours(
    vectors: DataFrame, features: Sequence[str], k: int = 3, metric: str = "euclidean", partitions: int | None = None
) -> DataFrame:
    """Same contract as :func:`jobs.transform.neighbours.exact_neighbours`, by brute force in Spark.

    ``partitions`` spreads the left side of the cross join over that many
    partitions (default: Spark's default parallelism), so every core works.
    """
    check_metric(metric)
    spark = vectors.sparkSession
    partitions = partitions or spark.sparkContext.defaultParallelism
    left = vectors.select(F.col("artist_id"), *[F.col(f).alias(f"_a_{f}") for f in features]).repartition(partitions)
    right = vectors.select(F.col("artist_id").alias("related_id"), *[F.col(f).alias(f"_b_{f}") for f in features])
    pairs = (
        left.crossJoin(right)
        .where(F.col("artist_id") != F.col("related_id"))
        .select(
            "artist_id",
            "related_id",
            distance_column(metric, [F.col(f"_a_{f}") for f in features], [F.col(f"_b_{f}") for f in features]).alias(
                "distance"
            ),
        )
    )
    ranked = pairs.withColumn(
        "rank", F.row_number().over(Window.partitionBy("artist_id").orderBy("distance", "related_id"))
    )
    return ranked.where(F.col("rank") <= k).select(
        "artist_id", F.col("rank").cast("int").alias("rank"), "related_id", "distance"
    )
