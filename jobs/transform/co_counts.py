"""The co-listening similarity as sparse matrix products: the same rows as :func:`jobs.transform.listeners.
co_listened`, bit for bit, in a fraction of the time.

The capped context sets (Spark: :func:`jobs.transform.listeners.context_sets`) are collected once as a
binary contexts x items matrix ``X`` (one entry per kept (context, artist): at most ``top_n`` per row),
one for listener and playlist contexts and one for chat users. ``X^T X`` holds every pair's shared
contexts; it is computed in blocks of items, each block one Spark task with the matrices broadcast, so
that no task holds more than its block's pairs. Each block is scored and ranked as the DataFrame
functions do: ``together / (sqrt(double(n_item) * n_other) + shrinkage)``, the same IEEE operations in
the same order, ties by the other item.

Blocks are cut by work (the pairs their items' contexts make), not by item count: a few popular
artists are in most contexts.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from scipy import sparse

from jobs.transform.listeners import CoListening, context_sets

TASK_PAIRS = 20_000_000  # pair contributions per task, at most (unless one item alone makes more)
RANKED = "item int, rank int, other int, similarity double"
_RANKED_ARROW = pa.schema(
    [("item", pa.int32()), ("rank", pa.int32()), ("other", pa.int32()), ("similarity", pa.float64())]
)


@dataclass(frozen=True)
class _Work:
    plain: sparse.csr_matrix  # listener and playlist contexts x items, 0/1
    chat: sparse.csr_matrix  # chat users x items, 0/1
    plain_columns: sparse.csc_matrix  # the same two, by column: a block of items is a slice
    chat_columns: sparse.csc_matrix
    contexts: np.ndarray  # per item: contexts counted (chat bounded)
    bounds: np.ndarray  # block b is items bounds[b]..bounds[b+1]-1
    m: int
    options: CoListening


def _matrix(items: pa.ListArray, n_items: int) -> sparse.csr_matrix:
    offsets = items.offsets.to_numpy().astype(np.int64)
    values = items.values.to_numpy(zero_copy_only=False).astype(np.int32)
    offsets = offsets - offsets[0]
    return sparse.csr_matrix((np.ones(len(values), dtype=np.int32), values, offsets), shape=(len(offsets) - 1, n_items))


def bounded_chat(chat: np.ndarray, options: CoListening) -> np.ndarray:
    """Chat users counted: none below ``chat_min_users``, at most ``chat_cap``."""
    return np.where(chat >= options.chat_min_users, np.minimum(chat, options.chat_cap), 0)


def _blocks(plain: sparse.csr_matrix, chat: sparse.csr_matrix, limit: int) -> np.ndarray:
    """Item bounds of blocks of at most ``limit`` pair contributions each (one item at least)."""
    work = np.zeros(plain.shape[1], dtype=np.int64)
    for x in (plain, chat):
        if x.nnz:
            sizes = np.diff(x.indptr).astype(np.int64)
            work += np.asarray(x.T @ sizes).ravel()
    cuts, total = [0], 0
    for item, cost in enumerate(work.tolist()):
        if total and total + cost > limit:
            cuts.append(item)
            total = 0
        total += cost
    cuts.append(len(work))
    return np.array(cuts, dtype=np.int64)


def rank_block(work: _Work, first: int, last: int) -> pa.RecordBatch:
    """The ranked rows of items ``first..last-1`` (see the module's docstring)."""
    options = work.options
    block = slice(first, last)
    together = (work.plain_columns[:, block].T.tocsr() @ work.plain).tocsr()
    if work.chat.nnz:
        chat = (work.chat_columns[:, block].T.tocsr() @ work.chat).tocsr()
        chat.data = bounded_chat(chat.data, options)
        together = (together + chat).tocsr()
    together = together.tocoo()
    item = together.row.astype(np.int64) + first
    other = together.col.astype(np.int64)
    shared = together.data.astype(np.int64)
    keep = (item != other) & (shared >= options.min_support) & (work.contexts[item] >= options.min_contexts)
    item, other, shared = item[keep], other[keep], shared[keep]
    similarity = shared / (
        np.sqrt(work.contexts[item].astype(np.float64) * work.contexts[other]) + float(options.shrinkage)
    )
    order = np.lexsort((other, -similarity, item))
    item, other, similarity = item[order], other[order], similarity[order]
    starts = np.r_[0, np.flatnonzero(np.diff(item)) + 1]
    rank = np.arange(len(item)) - np.repeat(starts, np.diff(np.r_[starts, len(item)])) + 1
    top = rank <= work.m
    return pa.RecordBatch.from_arrays(
        [
            pa.array(item[top].astype(np.int32)),
            pa.array(rank[top].astype(np.int32)),
            pa.array(other[top].astype(np.int32)),
            pa.array(similarity[top]),
        ],
        schema=_RANKED_ARROW,
    )


def _tasks(batches: Iterator[pa.RecordBatch], work) -> Iterator[pa.RecordBatch]:
    job: _Work = work.value
    for batch in batches:
        for b in batch.column(0).to_pylist():
            yield rank_block(job, int(job.bounds[b]), int(job.bounds[b + 1]))


def co_listened_sparse(
    spark: SparkSession,
    contexts: DataFrame,
    n_items: int,
    m: int,
    options: CoListening = CoListening(),
    task_pairs: int = TASK_PAIRS,
) -> DataFrame:
    """``context_id, item, weight, source`` (items ``0..n_items-1``) -> ``item, rank, other, similarity``:
    :func:`jobs.transform.listeners.co_listened`'s rows."""
    sets = context_sets(contexts, options.top_n).toArrow()
    items = sets.column("items").combine_chunks()
    is_chat = sets.column("chat").to_numpy(zero_copy_only=False).astype(bool)
    whole = _matrix(items, n_items)
    plain, chat = whole[~is_chat], whole[is_chat]
    counts = np.asarray(plain.sum(axis=0)).ravel().astype(np.int64) + bounded_chat(
        np.asarray(chat.sum(axis=0)).ravel().astype(np.int64), options
    )
    bounds = _blocks(plain, chat, task_pairs)
    blocks = len(bounds) - 1
    work = spark.sparkContext.broadcast(_Work(plain, chat, plain.tocsc(), chat.tocsc(), counts, bounds, m, options))
    return spark.range(blocks, numPartitions=max(1, blocks)).mapInArrow(functools.partial(_tasks, work=work), RANKED)
