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
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark import Accumulator
from pyspark.sql import DataFrame, SparkSession
from scipy.spatial import cKDTree

from jobs.common import schemas
from jobs.transform.id_order import id_order_key
from jobs.transform.metrics import check_metric, distance_array
from jobs.transform.phase_seconds import PhaseSecondsParam, Stopwatch, describe

log = logging.getLogger(__name__)

QUERY_BATCH = 32_768  # queries per KD-tree call and per output Arrow batch
MIN_ROWS_PER_TASK = 20_000  # fewer rows than this per task is all overhead
TASKS_PER_CORE = 2  # two tasks per core even out regions of unequal density; more only add start-up
LEAF_SIZE = 32  # over data stored in leaf order, larger leaves scan faster than scipy's default 16
# The tree that only orders the data: its leaves are the blocks of vectors stored, and queried, together.
# At 6 dimensions the size barely matters; from 10 on, a larger block spans unrelated regions of the space,
# so consecutive queries walk unrelated parts of the tree (see order_leaf_size).
ORDER_LEAF_SIZE = 32
# Slack when comparing KD-tree distances with recomputed ones (both are within a few ulps of the truth).
_RELATIVE_SLACK = 1e-9


class NeighbourIndex:
    """Exact k-nearest-neighbour queries over ``n`` vectors.

    The index keeps the vectors in a KD-tree's spatial order: position ``p`` of
    the index holds input row ``order[p]``. Queries and answers are positions,
    so neighbouring queries touch neighbouring memory.

    ``order_key[i]`` ranks input row ``i`` by artist_id; among equal distances
    the lower key wins. It may be given as a ``Future`` (see :meth:`for_ids`):
    it is awaited only after the spatial order is known. For ``cosine`` the
    vectors must already be unit length or zero; zero vectors are kept out of
    the tree (positions ``tree_size`` and up) and lie at distance exactly 1 from
    everything. ``watch`` (optional) is charged ``order``, ``key sort`` and ``build``.
    """

    def __init__(
        self,
        points: np.ndarray,
        order_key: np.ndarray | Future,
        metric: str,
        leafsize: int = LEAF_SIZE,
        watch: Stopwatch | None = None,
        order_leafsize: int | None = None,
    ):
        check_metric(metric)
        watch = watch or Stopwatch()
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2:
            raise ValueError("points must be (n, d) with one order key per row")
        if not np.isfinite(points).all():
            raise ValueError("points contain NaN or infinity")
        self.metric = metric
        self.size = points.shape[0]
        members, zeros = leaf_order(points, metric, order_leafsize or order_leaf_size(points.shape[1]))
        watch.lap("order")
        order_key = order_key.result() if isinstance(order_key, Future) else np.asarray(order_key)
        watch.lap("key sort")
        if order_key.shape != (self.size,):
            raise ValueError("points must be (n, d) with one order key per row")
        self.order = np.concatenate([members, zeros[np.argsort(order_key[zeros], kind="stable")]])
        self.order_key = order_key[self.order]
        self.tree_size = members.size
        in_tree = points[members]
        # Built over data already in (coarse) leaf order: each leaf's vectors lie close together in memory.
        self.tree = cKDTree(in_tree, leafsize=leafsize, balanced_tree=False, copy_data=False)
        watch.lap("build")

    @classmethod
    def for_ids(cls, points: np.ndarray, ids: pa.Array, metric: str, watch: Stopwatch | None = None) -> NeighbourIndex:
        """The index keyed by :func:`id_order_key` of ``ids``, sorted in a thread while the tree orders the points."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            return cls(points, pool.submit(id_order_key, ids), metric, watch=watch)

    def coordinates(self, positions: np.ndarray) -> np.ndarray:
        if self.tree_size == self.size:
            return self.tree.data[positions]
        out = np.zeros(positions.shape + (self.tree.data.shape[1],))
        inside = positions < self.tree_size
        out[inside] = self.tree.data[positions[inside]]
        return out

    def query(
        self, positions: np.ndarray, k: int, workers: int = 1, watch: Stopwatch | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest other positions of each of ``positions``, nearest first.

        Returns ``(neighbours, distances)``, both ``(len(positions), min(k, n - 1))``,
        ranked by distance, then by ``order_key``. ``watch`` (optional) is charged
        ``query`` (the KD-tree's) and ``ranking`` (exact distances, order, proof).
        """
        watch = watch or Stopwatch()
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
            found, dist, done = self._query_round(positions[pending], width, fetch, workers, watch)
            neighbours[pending[done]] = found[done]
            distances[pending[done]] = dist[done]
            pending = pending[~done]
            fetch *= 4
        watch.lap("ranking")
        return neighbours, distances

    def _lowest_keys(self, positions: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Answers for zero-vector queries: the ``width`` lowest-key other positions, each at distance 1."""
        count = width + 1  # <= size, since width <= size - 1
        lowest = np.argpartition(self.order_key, count - 1)[:count]
        lowest = np.broadcast_to(lowest[np.argsort(self.order_key[lowest])], (positions.size, count))
        self_last = np.argsort(lowest == positions[:, None], axis=1, kind="stable")
        found = np.take_along_axis(lowest, self_last, axis=1)[:, :width]
        return found, np.ones(found.shape)

    def _query_round(self, positions: np.ndarray, width: int, fetch: int, workers: int, watch: Stopwatch):
        watch.lap("ranking")
        here = self.coordinates(positions)
        fetch = min(fetch, self.tree_size)
        parts = []
        if fetch > 0:
            reach, found = self.tree.query(here, k=fetch, workers=workers)
            reach = reach.reshape(positions.size, fetch)
            parts.append(found.reshape(positions.size, fetch))
        watch.lap("query")
        outsiders = self.size - self.tree_size
        if outsiders:
            # Zero vectors, all at distance 1: only the lowest keys (first positions) can make the cut.
            first = np.arange(self.tree_size, self.tree_size + min(width + 1, outsiders))
            parts.append(np.broadcast_to(first, (positions.size, first.size)))
        candidates = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        dist = distance_array(self.metric, here[:, None, :], self.coordinates(candidates))
        best, best_dist = _rank(candidates, dist, positions, self.order_key, width)
        if fetch >= self.tree_size:
            done = np.ones(positions.size, dtype=bool)
        else:
            # Every vector the tree did not return lies at least `reach[:, -1]` away.
            unseen = reach[:, -1] if self.metric == "euclidean" else reach[:, -1] ** 2 / 2.0
            bound = best_dist[:, -1]
            done = unseen > bound + _RELATIVE_SLACK * np.maximum(1.0, np.abs(bound))
        return best, best_dist, done


def _rank(
    candidates: np.ndarray, dist: np.ndarray, positions: np.ndarray, order_key: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``width`` best candidates other than itself, by ``(dist, order_key)``, and their distances.

    Most rows need no sort: when the row's own position comes first and the other candidates' exact
    distances strictly increase in the tree's order, that order is the ranking (no two distances tie,
    so the key cannot matter). Only the other rows go through ``np.lexsort``.
    """
    rows, columns = candidates.shape
    plain = np.zeros(rows, dtype=bool)
    if columns > width:
        plain = candidates[:, 0] == positions
        if columns > 2:
            plain &= np.all(dist[:, 2:] > dist[:, 1:-1], axis=1)
    best = np.empty((rows, width), dtype=candidates.dtype)
    best_dist = np.empty((rows, width))
    best[plain] = candidates[plain, 1 : width + 1]
    best_dist[plain] = dist[plain, 1 : width + 1]
    tangled = np.flatnonzero(~plain)
    if tangled.size:
        some, some_dist = candidates[tangled], dist[tangled]
        some_dist[some == positions[tangled, None]] = np.inf
        ranking = np.lexsort((order_key[some], some_dist), axis=-1)[:, :width]
        best[tangled] = np.take_along_axis(some, ranking, axis=1)
        best_dist[tangled] = np.take_along_axis(some_dist, ranking, axis=1)
    return best, best_dist


def order_leaf_size(dims: int) -> int:
    """The ordering tree's leaf size for vectors of ``dims`` dimensions: 32 from 6 to 16 dimensions.

    Measured with ``python -m bench.similarity --parts leaf`` (the lake's rank vectors, every position
    queried in order in one thread, median of 3, seconds; 2026-12-06, 2-core machine, nothing else running):

    ==== ========= ======= ======= ======= =======
    dims artists   16      32      64      256
    ==== ========= ======= ======= ======= =======
    6    300,000   2.15    2.23    2.09    2.20
    8    300,000   4.77    4.63    4.73    5.20
    10   300,000   9.62    9.42    10.32   11.88
    12   300,000   15.80   16.43   19.94   24.97
    12   100,000   4.48    4.54    4.80    8.62
    14   100,000   11.79   10.24   12.19   16.74
    16   100,000   30.36   31.29   60.12   82.00
    ==== ========= ======= ======= ======= =======

    32 is the fastest or within 7% of it at every size measured, where 64 and 256 lose up to 2.6x from
    10 dimensions on; 16 is as good from 12 dimensions on, and 15% slower at 14.
    """
    return ORDER_LEAF_SIZE


def leaf_order(points: np.ndarray, metric: str, leafsize: int = ORDER_LEAF_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """``(members, zeros)``: the rows that go in the tree, in a KD-tree's leaf order, and the rest.

    For ``cosine`` the zero vectors stay out of the tree (``zeros``, in input order); otherwise
    ``zeros`` is empty.
    """
    if metric == "cosine":
        inside = np.any(points != 0.0, axis=1)
        members, zeros = np.flatnonzero(inside), np.flatnonzero(~inside)
        if zeros.size:
            return (members[leaf_order(points[members], "euclidean", leafsize)[0]] if members.size else members, zeros)
    empty = np.arange(0)
    if points.shape[0] == 0:
        return empty, empty
    return cKDTree(
        np.ascontiguousarray(points), leafsize=leafsize, balanced_tree=False, copy_data=False
    ).indices.astype(np.int64, copy=False), empty


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

    def related_batch(self, positions: np.ndarray, watch: Stopwatch) -> pa.RecordBatch:
        neighbours, distances = self.index.query(positions, self.k, watch=watch)
        width = neighbours.shape[1]
        valid = neighbours >= 0
        batch = pa.RecordBatch.from_arrays(
            [
                self.ids.take(pa.array(np.repeat(positions, width).reshape(positions.size, width)[valid])),
                pa.array(np.broadcast_to(np.arange(1, width + 1, dtype=np.int32), neighbours.shape)[valid]),
                self.ids.take(pa.array(neighbours[valid])),
                pa.array(distances[valid]),
            ],
            schema=_RELATED_ARROW,
        )
        watch.lap("arrow")
        return batch


_RELATED_ARROW = schemas.arrow_schema(schemas.RELATED_ARTISTS)


@dataclass
class NeighbourSearch:
    """A search's output rows (evaluated lazily, like any DataFrame) and where its time goes.

    ``driver_seconds``: ``order``, ``key sort`` (what the id sort adds after the ordering tree, which it
    runs beside), ``build``, ``ids`` (the ids in the index's order) and ``broadcast``, measured when the
    search is set up. :meth:`task_seconds`: ``load`` (the broadcast index, once per Python worker),
    ``query``, ``ranking`` and ``arrow``, summed over every task of every evaluation so far.
    """

    frame: DataFrame
    driver_seconds: dict[str, float]
    tasks: int
    _task_seconds: Accumulator

    def task_seconds(self) -> dict[str, float]:
        return dict(self._task_seconds.value)

    def describe(self) -> str:
        return f"driver: {describe(self.driver_seconds)}; {self.tasks} tasks, summed: {describe(self.task_seconds())}"


def exact_neighbours(
    vectors: DataFrame, features: Sequence[str], k: int = 3, metric: str = "euclidean", tasks: int | None = None
) -> DataFrame:
    """``artist_id, rank, related_id, distance`` for the k nearest other artists of each artist.

    ``vectors`` holds ``artist_id`` (unique) and ``features`` already in metric
    space (:func:`jobs.transform.vectors.to_metric_space`). The vectors are
    collected here (about 60 bytes per artist); the search itself runs in
    Spark tasks when the returned DataFrame is evaluated.
    """
    table = vectors.select("artist_id", *features).toArrow()
    points = (
        np.column_stack([table.column(f).to_numpy() for f in features])
        if table.num_rows
        else np.empty((0, len(features)))
    )
    return neighbours_from_arrays(
        vectors.sparkSession, table.column("artist_id").combine_chunks(), points, k=k, metric=metric, tasks=tasks
    )


def neighbours_from_arrays(
    spark: SparkSession,
    ids: pa.Array,
    points: np.ndarray,
    k: int = 3,
    metric: str = "euclidean",
    tasks: int | None = None,
) -> DataFrame:
    """Like :func:`exact_neighbours`, for vectors already on the driver (``ids[i]`` owns ``points[i]``)."""
    return search_from_arrays(spark, ids, points, k, metric, tasks).frame


def search_from_arrays(
    spark: SparkSession,
    ids: pa.Array,
    points: np.ndarray,
    k: int = 3,
    metric: str = "euclidean",
    tasks: int | None = None,
) -> NeighbourSearch:
    """:func:`neighbours_from_arrays`'s rows with the seconds of each phase (:class:`NeighbourSearch`)."""
    check_metric(metric)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    task_seconds = spark.sparkContext.accumulator({}, PhaseSecondsParam())
    n = len(ids)
    if n == 0:
        return NeighbourSearch(schemas.local_frame(spark, [], schemas.RELATED_ARTISTS), {}, 0, task_seconds)
    watch = Stopwatch()
    index = NeighbourIndex.for_ids(points, ids, metric, watch)
    if tasks is None:
        tasks = max(1, min(TASKS_PER_CORE * spark.sparkContext.defaultParallelism, math.ceil(n / MIN_ROWS_PER_TASK)))
    ordered_ids = ids.take(pa.array(index.order))
    watch.lap("ids")
    work = spark.sparkContext.broadcast(_SearchWork(index, ordered_ids, k, tasks))
    watch.lap("broadcast")
    log.info(
        "neighbour index over %d artists (%d in the KD-tree) built and broadcast in %.1f s (%s); "
        "the search runs in %d tasks",
        n,
        index.tree_size,
        sum(watch.seconds.values()),
        describe(watch.seconds),
        tasks,
    )
    frame = spark.range(tasks, numPartitions=tasks).mapInArrow(
        functools.partial(_search_tasks, work=work, seconds=task_seconds), schemas.RELATED_ARTISTS
    )
    return NeighbourSearch(frame, watch.seconds, tasks, task_seconds)


def _search_tasks(batches: Iterator[pa.RecordBatch], work, seconds: Accumulator) -> Iterator[pa.RecordBatch]:
    watch = Stopwatch()
    try:
        job: _SearchWork = work.value
        watch.lap("load")
        for batch in batches:
            for task in batch.column(0).to_pylist():
                positions = job.task_positions(task)
                for start in range(0, positions.size, QUERY_BATCH):
                    watch.restart()
                    out = job.related_batch(positions[start : start + QUERY_BATCH], watch)
                    yield out
    finally:
        seconds.add(watch.seconds)
