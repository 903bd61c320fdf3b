"""Exact k nearest artists for every artist, without materializing n² pairs.

The production path: the (small) vectors are collected to the driver, a
KD-tree is built over them once and broadcast, and each Spark task answers
one slice of the queries with it. The vectors are stored, and the queries
issued, in the tree's own spatial order, so that neighbouring queries touch
neighbouring memory: that is most of what makes a KD-tree search fast.

Exactness: the KD-tree proposes candidates; their distances are recomputed
with :func:`jobs.transform.metrics.distance_array` (the same arithmetic as the
naive Spark reference) and ranked by ``(distance, related artist_id)``. A query
is finished only when the tree proves that no unseen artist can come within
the k-th distance; otherwise it is asked again for more candidates. Ties are
therefore broken by artist_id exactly as the reference breaks them.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from scipy.spatial import cKDTree

from jobs.common import schemas
from jobs.transform.metrics import check_metric, distance_array

log = logging.getLogger(__name__)

QUERY_BATCH = 32_768        # queries per KD-tree call and per output Arrow batch
MIN_ROWS_PER_TASK = 20_000  # fewer rows than this per task is all overhead
TASKS_PER_CORE = 4          # a few tasks per core evens out regions of unequal density
LEAF_SIZE = 32              # over data stored in leaf order, larger leaves scan faster than scipy's default 16
# Slack when comparing KD-tree distances with recomputed ones (both are within a few ulps of the truth).
_RELATIVE_SLACK = 1e-9


class NeighbourIndex:
    """Exact k-nearest-neighbour queries over ``n`` vectors.

    The index keeps the vectors in the KD-tree's own spatial order: position
    ``p`` of the index holds input row ``order[p]``. Queries and answers are
    positions, so neighbouring queries touch neighbouring memory.

    ``order_key[i]`` ranks input row ``i`` by artist_id; among equal distances
    the lower key wins. For ``cosine`` the vectors must already be unit length
    or zero; zero vectors are kept out of the tree (positions ``tree_size``
    and up) and lie at distance exactly 1 from everything.
    """

    def __init__(self, points: np.ndarray, order_key: np.ndarray, metric: str, leafsize: int = LEAF_SIZE):
        check_metric(metric)
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[0] != order_key.shape[0]:
            raise ValueError("points must be (n, d) with one order key per row")
        if not np.isfinite(points).all():
            raise ValueError("points contain NaN or infinity")
        self.metric = metric
        self.size = points.shape[0]
        self.order = spatial_order(points, order_key, metric, leafsize)
        in_tree = points[self.order]
        self.order_key = order_key[self.order]
        self.tree_size = self.size if metric == "euclidean" else int(np.any(in_tree != 0.0, axis=1).sum())
        # Built over data already in leaf order: the tree's leaves are contiguous runs of memory.
        self.tree = cKDTree(in_tree[: self.tree_size], leafsize=leafsize, balanced_tree=False, copy_data=False)

    def coordinates(self, positions: np.ndarray) -> np.ndarray:
        if self.tree_size == self.size:
            return self.tree.data[positions]
        out = np.zeros(positions.shape + (self.tree.data.shape[1],))
        inside = positions < self.tree_size
        out[inside] = self.tree.data[positions[inside]]
        return out

    def query(self, positions: np.ndarray, k: int, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest other positions of each of ``positions``, nearest first.

        Returns ``(neighbours, distances)``, both ``(len(positions), min(k, n - 1))``,
        ranked by distance, then by ``order_key``.
        """
        positions = np.asarray(positions, dtype=np.int64)
        width = max(0, min(k, self.size - 1))
        neighbours = np.full((positions.size, width), -1, dtype=np.int64)
        distances = np.full((positions.size, width), np.nan)
        if width == 0 or positions.size == 0:
            return neighbours, distances
        outside = positions >= self.tree_size
        if outside.any():
            # A zero vector is at distance exactly 1 from everyone: its neighbours are the lowest keys.
            neighbours[outside], distances[outside] = self._lowest_keys(positions[outside], width)
        pending = np.flatnonzero(~outside)
        fetch = width + 2
        while pending.size:
            found, dist, done = self._query_round(positions[pending], width, fetch, workers)
            neighbours[pending[done]] = found[done]
            distances[pending[done]] = dist[done]
            pending = pending[~done]
            fetch *= 4
        return neighbours, distances

    def _lowest_keys(self, positions: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Answers for zero-vector queries: the ``width`` lowest-key other positions, each at distance 1."""
        count = width + 1  # <= size, since width <= size - 1
        lowest = np.argpartition(self.order_key, count - 1)[:count]
        lowest = np.broadcast_to(lowest[np.argsort(self.order_key[lowest])], (positions.size, count))
        self_last = np.argsort(lowest == positions[:, None], axis=1, kind="stable")
        found = np.take_along_axis(lowest, self_last, axis=1)[:, :width]
        return found, np.ones(found.shape)

    def _query_round(self, positions: np.ndarray, width: int, fetch: int, workers: int):
        here = self.coordinates(positions)
        fetch = min(fetch, self.tree_size)
        parts = []
        if fetch > 0:
            reach, found = self.tree.query(here, k=fetch, workers=workers)
            reach = reach.reshape(positions.size, fetch)
            parts.append(found.reshape(positions.size, fetch))
        outsiders = self.size - self.tree_size
        if outsiders:
            # Zero vectors, all at distance 1: only the lowest keys (first positions) can make the cut.
            first = np.arange(self.tree_size, self.tree_size + min(width + 1, outsiders))
            parts.append(np.broadcast_to(first, (positions.size, first.size)))
        candidates = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        dist = distance_array(self.metric, here[:, None, :], self.coordinates(candidates))
        dist[candidates == positions[:, None]] = np.inf
        ranking = np.lexsort((self.order_key[candidates], dist), axis=-1)[:, :width]
        best = np.take_along_axis(candidates, ranking, axis=1)
        best_dist = np.take_along_axis(dist, ranking, axis=1)
        if fetch >= self.tree_size:
            done = np.ones(positions.size, dtype=bool)
        else:
            # Every vector the tree did not return lies at least `reach[:, -1]` away.
            unseen = reach[:, -1] if self.metric == "euclidean" else reach[:, -1] ** 2 / 2.0
            bound = best_dist[:, -1]
            done = unseen > bound + _RELATIVE_SLACK * np.maximum(1.0, np.abs(bound))
        return best, best_dist, done


def spatial_order(points: np.ndarray, order_key: np.ndarray, metric: str, leafsize: int = LEAF_SIZE) -> np.ndarray:
    """Row numbers in a KD-tree's leaf order; for cosine, zero vectors last, by ``order_key``."""
    if metric == "cosine":
        inside = np.any(points != 0.0, axis=1)
        members, outsiders = np.flatnonzero(inside), np.flatnonzero(~inside)
        outsiders = outsiders[np.argsort(order_key[outsiders], kind="stable")]
        if outsiders.size:
            leaf_order = members[spatial_order(points[members], order_key[members], "euclidean", leafsize)] \
                if members.size else members
            return np.concatenate([leaf_order, outsiders])
    if points.shape[0] == 0:
        return np.arange(0)
    return cKDTree(np.ascontiguousarray(points), leafsize=leafsize, balanced_tree=False,
                   copy_data=False).indices.astype(np.int64, copy=False)


@dataclass
class _SearchWork:
    """Everything a task needs, broadcast once: the index and the ids in the index's order."""

    index: NeighbourIndex
    ids: pa.Array
    k: int
    tasks: int

    def task_positions(self, task: int) -> np.ndarray:
        n = self.index.size
        return np.arange(n * task // self.tasks, n * (task + 1) // self.tasks)

    def related_batch(self, positions: np.ndarray) -> pa.RecordBatch:
        neighbours, distances = self.index.query(positions, self.k)
        width = neighbours.shape[1]
        valid = neighbours >= 0
        return pa.RecordBatch.from_arrays([
            self.ids.take(pa.array(np.repeat(positions, width).reshape(positions.size, width)[valid])),
            pa.array(np.broadcast_to(np.arange(1, width + 1, dtype=np.int32), neighbours.shape)[valid]),
            self.ids.take(pa.array(neighbours[valid])),
            pa.array(distances[valid]),
        ], schema=_RELATED_ARROW)


_RELATED_ARROW = schemas.arrow_schema(schemas.RELATED_ARTISTS)


def exact_neighbours(vectors: DataFrame, features: Sequence[str], k: int = 3, metric: str = "euclidean",
                     tasks: int | None = None) -> DataFrame:
    """``artist_id, rank, related_id, distance`` for the k nearest other artists of each artist.

    ``vectors`` holds ``artist_id`` (unique) and ``features`` already in metric
    space (:func:`jobs.transform.vectors.to_metric_space`). The vectors are
    collected here (about 60 bytes per artist); the search itself runs in
    Spark tasks when the returned DataFrame is evaluated.
    """
    table = vectors.select("artist_id", *features).toArrow()
    points = np.column_stack([table.column(f).to_numpy() for f in features]) if table.num_rows else \
        np.empty((0, len(features)))
    return neighbours_from_arrays(vectors.sparkSession, table.column("artist_id").combine_chunks(), points,
                                  k=k, metric=metric, tasks=tasks)


def neighbours_from_arrays(spark: SparkSession, ids: pa.Array, points: np.ndarray, k: int = 3,
                           metric: str = "euclidean", tasks: int | None = None) -> DataFrame:
    """Like :func:`exact_neighbours`, for vectors already on the driver (``ids[i]`` owns ``points[i]``)."""
    check_metric(metric)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    n = len(ids)
    if n == 0:
        return spark.createDataFrame([], schemas.RELATED_ARTISTS)
    started = time.perf_counter()
    index = NeighbourIndex(points, id_order_key(ids), metric)
    if tasks is None:
        tasks = max(1, min(TASKS_PER_CORE * spark.sparkContext.defaultParallelism,
                           math.ceil(n / MIN_ROWS_PER_TASK)))
    work = spark.sparkContext.broadcast(_SearchWork(index, ids.take(pa.array(index.order)), k, tasks))
    log.info("neighbour index over %d artists (%d in the KD-tree) built and broadcast in %.1f s; "
             "the search runs in %d tasks", n, index.tree_size, time.perf_counter() - started, tasks)
    return spark.range(tasks, numPartitions=tasks).mapInArrow(
        functools.partial(_search_tasks, work=work), schemas.RELATED_ARTISTS)


def id_order_key(ids: pa.Array) -> np.ndarray:
    """Rank of each id in ascending order; fails when an id repeats or is null."""
    if ids.null_count:
        raise ValueError("artist ids contain null")
    ascending = pc.sort_indices(ids).to_numpy()
    sorted_ids = ids.take(pa.array(ascending))
    if len(ids) > 1 and pc.any(pc.equal(sorted_ids.slice(1), sorted_ids.slice(0, len(ids) - 1))).as_py():
        raise ValueError("artist ids repeat: one vector per artist expected")
    key = np.empty(len(ids), dtype=np.int64)
    key[ascending] = np.arange(len(ids))
    return key


def _search_tasks(batches: Iterator[pa.RecordBatch], work) -> Iterator[pa.RecordBatch]:
    job: _SearchWork = work.value
    for batch in batches:
        for task in batch.column(0).to_pylist():
            positions = job.task_positions(task)
            for start in range(0, positions.size, QUERY_BATCH):
                yield job.related_batch(positions[start:start + QUERY_BATCH])
