"""Related artists from how artists sound and what people listen to together, with the reason for each.

Candidates come from both signals: an artist's ``m`` nearest by sound (``sound``: ``artist_id, rank,
related_id, distance``) and its ``m`` most listened-together (``listened``: ``artist_id, rank, related_id,
similarity, distance``, the distance being the pair's sound distance). Each candidate scores::

    score = weight * similarity / (the artist's highest similarity) + (1 - weight) * (1 - (sound rank - 1) / m)

with 0 for the part of a signal that did not propose it. The ``k`` best are kept, ties broken by
distance and then by id, and each says why (``reason``): ``both`` when both signals proposed it,
else ``sound`` or ``listeners``. An artist that ``listened`` does not cover keeps its ``k`` nearest by
sound, each with reason ``sound``: sound alone is the fallback.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def check_weight(value) -> float:
    """A blend weight: a number from 0 (sound alone) to 1 (listeners alone)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"listeners weight must be a number from 0 to 1, got {value!r}")
    return float(value)


def sound_only(sound: DataFrame, k: int) -> DataFrame:
    """The ``k`` nearest by sound, each with reason ``sound``."""
    return sound.where(F.col("rank") <= k).select(
        "artist_id", "rank", "related_id", "distance", F.lit("sound").alias("reason")
    )


def blend(sound: DataFrame, listened: DataFrame, k: int, m: int, weight: float) -> DataFrame:
    """``related_artists`` rows with a reason (see the module's docstring)."""
    best = Window.partitionBy("artist_id")
    heard = listened.withColumn("top", F.max("similarity").over(best)).select(
        "artist_id",
        "related_id",
        (F.col("similarity") / F.col("top")).alias("heard"),
        F.col("distance").alias("listened_distance"),
    )
    covered = heard.select("artist_id").distinct()
    near = sound.join(covered, "artist_id").select(
        "artist_id", "related_id", (F.lit(1.0) - (F.col("rank") - 1) / F.lit(float(m))).alias("near"), "distance"
    )
    both = near.join(heard, ["artist_id", "related_id"], "full_outer")
    score = F.lit(weight) * F.coalesce(F.col("heard"), F.lit(0.0)) + F.lit(1.0 - weight) * F.coalesce(
        F.col("near"), F.lit(0.0)
    )
    reason = (
        F.when(F.col("near").isNotNull() & F.col("heard").isNotNull(), "both")
        .when(F.col("near").isNotNull(), "sound")
        .otherwise("listeners")
    )
    order = best.orderBy(F.col("score").desc(), F.col("distance"), F.col("related_id"))
    ranked = (
        both.select(
            "artist_id",
            "related_id",
            score.alias("score"),
            F.coalesce(F.col("distance"), F.col("listened_distance")).alias("distance"),
            reason.alias("reason"),
        )
        .withColumn("rank", F.row_number().over(order))
        .where(F.col("rank") <= k)
    )
    blended = ranked.select("artist_id", F.col("rank").cast("int").alias("rank"), "related_id", "distance", "reason")
    return blended.unionByName(sound_only(sound.join(covered, "artist_id", "left_anti"), k))
