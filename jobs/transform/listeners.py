"""Artists listened to together: an item-item similarity from co-occurrence in listening contexts.

A context (one listener, one playlist, one chat user: the lake's ``artist_contexts``) is reduced to
the set of its ``top_n`` artists by weight, ties broken by artist, so that a context adds at most
``top_n * (top_n - 1) / 2`` pairs: the work is bounded by the sum of ``top_n`` squared over the
contexts, never by artists squared. Two artists' similarity is the cosine of their context sets,
shrunk towards zero while they share few contexts::

    similarity(a, b) = together(a, b) / (sqrt(contexts(a) * contexts(b)) + shrinkage)

and a pair is kept only when ``together >= min_support`` distinct contexts hold both.

Chat users are contexts that anyone with a KakaoTalk account can make, so their part is bounded:
a pair's chat contexts count only when at least ``chat_min_users`` of them hold it, and then at most
``chat_cap`` of them, in ``together`` as in each artist's ``contexts``. One user counts once per pair
however often they asked (a context is a set), so neither one user nor a crowd of new ones can make
two artists look listened together.

Artists are numbered (``item``, an int: e.g. the artist's row in the vector arrays) before this
module sees them, so that the shuffles carry ints. The functions here are ``DataFrame -> DataFrame`` and
state the rule; the job counts pairs with sparse matrix products instead (:mod:`jobs.transform.co_counts`,
the same rows, much faster), and :func:`listened_candidates` is what it calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.transform.metrics import distance_array

CHAT_SOURCE = "chat"
# A pair of items (each below 2**31) packed in one long: first * PAIR_BASE + second.
PAIR_BASE = 1 << 31


@dataclass(frozen=True)
class CoListening:
    """How co-occurrence becomes a similarity (see the module's docstring)."""

    top_n: int = 50
    min_support: int = 2
    min_contexts: int = 5
    shrinkage: float = 5.0
    chat_min_users: int = 5
    chat_cap: int = 20


def context_sets(contexts: DataFrame, top_n: int) -> DataFrame:
    """``context_id, item, weight, source`` -> ``context_id, chat, items``: each context's ``top_n`` items
    by weight (highest first, ties by item), as a sorted array without repeats; ``chat`` when the
    context comes from chat users. Rows without a positive weight are left out; the lake holds one row per
    (context, artist), and an item listed twice ranks by its highest weight."""
    kept = contexts.where(F.col("weight") > 0).where(F.col("item").isNotNull())
    grouped = kept.groupBy("context_id").agg(
        F.max((F.col("source") == F.lit(CHAT_SOURCE)).cast("int")).alias("chat"),
        F.array_sort(F.collect_list(F.struct((-F.col("weight")).alias("w"), F.col("item")))).alias("ranked"),
    )
    # array_distinct keeps first occurrences in order: an item listed twice ranks by its highest weight.
    items = F.array_sort(F.slice(F.array_distinct(F.transform("ranked", lambda r: r["item"])), 1, top_n))
    return grouped.select("context_id", (F.col("chat") == 1).alias("chat"), items.alias("items"))


def _pair_keys(items: Column) -> Column:
    """Every pair ``(a, b)`` with ``a < b`` of a sorted int array, as ``a * PAIR_BASE + b``."""
    return F.flatten(
        F.transform(
            items,
            lambda a, i: F.transform(
                F.slice(items, i + 2, F.greatest(F.size(items) - i - 1, F.lit(0))),
                lambda b: a.cast("long") * F.lit(PAIR_BASE) + b.cast("long"),
            ),
        )
    )


def _bounded(plain: Column, chat: Column, options: CoListening) -> Column:
    """Contexts counted: all listener and playlist contexts, chat ones only from ``chat_min_users`` on and
    at most ``chat_cap`` of them."""
    counted_chat = F.when(chat >= options.chat_min_users, F.least(chat, F.lit(options.chat_cap))).otherwise(0)
    return plain + counted_chat


def _counts(frame: DataFrame, key: str, options: CoListening) -> DataFrame:
    return (
        frame.groupBy(key)
        .agg(
            F.sum(F.when(F.col("chat"), 0).otherwise(1)).alias("plain"),
            F.sum(F.when(F.col("chat"), 1).otherwise(0)).alias("chat_users"),
        )
        .select(key, _bounded(F.col("plain"), F.col("chat_users"), options).alias("n"))
    )


def item_counts(sets: DataFrame, options: CoListening) -> DataFrame:
    """``context_sets`` -> ``item, contexts``: the contexts counted for each item."""
    exploded = sets.select("chat", F.explode("items").alias("item"))
    return _counts(exploded, "item", options).withColumnRenamed("n", "contexts").where(F.col("contexts") > 0)


def pair_counts(sets: DataFrame, options: CoListening) -> DataFrame:
    """``context_sets`` -> ``item, other, together`` (``item < other``): the contexts counted that hold
    both, for pairs with at least ``min_support``."""
    exploded = sets.select("chat", F.explode(_pair_keys(F.col("items"))).alias("pair"))
    counted = _counts(exploded, "pair", options).where(F.col("n") >= options.min_support)
    return counted.select(
        (F.col("pair") / F.lit(PAIR_BASE)).cast("int").alias("item"),
        (F.col("pair") % F.lit(PAIR_BASE)).cast("int").alias("other"),
        F.col("n").alias("together"),
    )


def similarities(pairs: DataFrame, counts: DataFrame, shrinkage: float) -> DataFrame:
    """``pair_counts`` and ``item_counts`` -> ``item, other, together, similarity``, both directions."""
    left = counts.select(F.col("item"), F.col("contexts").alias("n_item"))
    right = counts.select(F.col("item").alias("other"), F.col("contexts").alias("n_other"))
    scored = (
        pairs.join(F.broadcast(left), "item")
        .join(F.broadcast(right), "other")
        .select(
            "item",
            "other",
            "together",
            (
                F.col("together")
                / (F.sqrt(F.col("n_item").cast("double") * F.col("n_other")) + F.lit(float(shrinkage)))
            ).alias("similarity"),
        )
    )
    mirrored = scored.select(F.col("other").alias("item"), F.col("item").alias("other"), "together", "similarity")
    return scored.unionByName(mirrored)


def top_listened(scored: DataFrame, m: int) -> DataFrame:
    """``item, other, together, similarity`` -> ``item, rank, other, similarity``: each item's ``m`` most
    similar others, ranked by similarity (highest first), then by ``other``."""
    order = Window.partitionBy("item").orderBy(F.col("similarity").desc(), F.col("other"))
    return (
        scored.withColumn("rank", F.row_number().over(order))
        .where(F.col("rank") <= m)
        .select("item", F.col("rank").cast("int").alias("rank"), "other", "similarity")
    )


def co_listened(contexts: DataFrame, m: int, options: CoListening = CoListening()) -> DataFrame:
    """``context_id, item, weight, source`` -> the ``m`` most listened-together items (``item, rank, other,
    similarity``; see the module's docstring) of each item counted in at least ``min_contexts`` contexts."""
    sets = context_sets(contexts, options.top_n).cache()
    try:
        counts = item_counts(sets, options)
        scored = similarities(pair_counts(sets, options), counts, options.shrinkage)
        known = counts.where(F.col("contexts") >= options.min_contexts).select("item")
        return top_listened(scored.join(F.broadcast(known), "item"), m).localCheckpoint()
    finally:
        sets.unpersist()


def numbered(spark: SparkSession, ids: pa.Array) -> DataFrame:
    """``artist_id, item``: each artist of ``ids`` numbered by its place there."""
    table = pa.table({"artist_id": ids.cast(pa.string()), "item": pa.array(np.arange(len(ids), dtype=np.int32))})
    return spark.createDataFrame(table, "artist_id string, item int")


def listened_candidates(
    spark: SparkSession,
    contexts: DataFrame,
    ids: pa.Array,
    points: np.ndarray,
    metric: str,
    m: int,
    options: CoListening = CoListening(),
) -> DataFrame:
    """``artist_id, rank, related_id, similarity, distance``: each artist's ``m`` most listened-together
    artists (:func:`co_listened`) among the artists of ``ids``, with the pair's sound ``distance`` between
    their ``points`` (``metric``), computed on the driver."""
    from jobs.transform.co_counts import co_listened_sparse

    items = contexts.join(numbered(spark, ids), "artist_id").select("context_id", "item", "weight", "source")
    table = co_listened_sparse(spark, items, len(ids), m, options).toArrow()
    item = table.column("item").to_numpy().astype(np.int64)
    other = table.column("other").to_numpy().astype(np.int64)
    distance = distance_array(metric, points[item], points[other]) if len(item) else np.zeros(0)
    out = pa.table(
        {
            "artist_id": ids.take(pa.array(item)).cast(pa.string()),
            "rank": table.column("rank"),
            "related_id": ids.take(pa.array(other)).cast(pa.string()),
            "similarity": table.column("similarity"),
            "distance": pa.array(distance, pa.float64()),
        }
    )
    return spark.createDataFrame(
        out, "artist_id string, rank int, related_id string, similarity double, distance double"
    )
