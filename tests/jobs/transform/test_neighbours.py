"""The production neighbour search against the naive Spark reference and a numpy brute force."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from chispa import assert_df_equality

from jobs.transform.metrics import distance_array
from jobs.transform.naive import naive_neighbours
from jobs.transform.neighbours import NeighbourIndex, exact_neighbours, id_order_key
from jobs.transform.vectors import normalize, to_metric_space
from tests.support.oracle import brute_force_neighbours

FEATURES = ["f0", "f1", "f2", "f3"]


def vectors_frame(spark, points, ids=None):
    ids = ids or [f"artist{i:05d}" for i in range(len(points))]
    rows = [(artist, *map(float, p)) for artist, p in zip(ids, points)]
    return spark.createDataFrame(rows, "artist_id string, " + ", ".join(f"{f} double" for f in FEATURES))


def sorted_rows(frame):
    return sorted(tuple(r) for r in frame.collect())


def assert_same_neighbours(actual, expected, exact_distances=True):
    assert [r[:3] for r in actual] == [r[:3] for r in expected]
    for a, e in zip(actual, expected):
        if exact_distances:
            assert a[3] == e[3], (a, e)
        else:
            assert math.isclose(a[3], e[3], rel_tol=1e-9, abs_tol=1e-12), (a, e)


def realistic_points(seed, n):
    """Raw artist means in the ranges of the real features (loudness in dB, the rest 0..1)."""
    rng = np.random.default_rng(seed)
    centres = rng.random((6, 4))
    points = centres[rng.integers(0, 6, n)] + rng.normal(0, 0.08, (n, 4))
    points[:, 2] = points[:, 2] * 40 - 40
    return points


@pytest.mark.parametrize("normalization", ["minmax", "zscore"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_matches_naive_reference_and_numpy_brute_force(spark, metric, normalization):
    raw = vectors_frame(spark, realistic_points(11, 240))
    space = raw.transform(normalize, FEATURES, normalization).transform(to_metric_space, FEATURES, metric).cache()
    exact = sorted_rows(space.transform(exact_neighbours, FEATURES, 3, metric, 3))
    naive = sorted_rows(space.transform(naive_neighbours, FEATURES, 3, metric))
    collected = sorted(space.collect())
    oracle = sorted(
        brute_force_neighbours(
            [r.artist_id for r in collected], np.array([[r[f] for f in FEATURES] for r in collected]), 3, metric
        )
    )
    assert len(exact) == 240 * 3
    assert_same_neighbours(exact, naive, exact_distances=True)
    assert_same_neighbours(exact, oracle, exact_distances=False)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_ties_and_duplicates_follow_artist_id(spark, metric):
    # A coarse lattice: many artists share a vector, many distances tie exactly.
    rng = np.random.default_rng(5)
    points = np.round(rng.random((300, 4)) * 2) / 2
    points[:4] = 0.0  # zero vectors: cosine distance 1 to everyone
    ids = [f"id{rng.integers(0, 10**9):09d}{i}" for i in range(300)]
    space = vectors_frame(spark, points, ids).transform(to_metric_space, FEATURES, metric).cache()
    exact = space.transform(exact_neighbours, FEATURES, 3, metric, 4)
    naive = space.transform(naive_neighbours, FEATURES, 3, metric)
    assert_df_equality(exact, naive, ignore_row_order=True, ignore_nullable=True)


def test_equal_distances_rank_by_related_artist_id(spark):
    # "m" is at distance 1 from b, a and c, and at distance 2 from d.
    points = [[0, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 2]]
    frame = vectors_frame(spark, points, ["m", "b", "a", "c", "d"])
    related = frame.transform(exact_neighbours, FEATURES, 3, "euclidean").where("artist_id = 'm'")
    assert [(r.rank, r.related_id, r.distance) for r in related.orderBy("rank").collect()] == [
        (1, "a", 1.0),
        (2, "b", 1.0),
        (3, "c", 1.0),
    ]


def test_fewer_artists_than_k_plus_one(spark):
    frame = vectors_frame(spark, [[0, 0, 0, 0], [1, 0, 0, 0], [0, 3, 0, 0]], ["x", "y", "z"])
    related = sorted_rows(frame.transform(exact_neighbours, FEATURES, 5, "euclidean"))
    assert related == [
        ("x", 1, "y", 1.0),
        ("x", 2, "z", 3.0),
        ("y", 1, "x", 1.0),
        ("y", 2, "z", math.sqrt(10.0)),
        ("z", 1, "x", 3.0),
        ("z", 2, "y", math.sqrt(10.0)),
    ]


def test_single_artist_and_no_artist_give_no_rows(spark):
    one = vectors_frame(spark, [[0.5, 0.5, 0.5, 0.5]], ["solo"])
    assert one.transform(exact_neighbours, FEATURES, 3, "euclidean").count() == 0
    none = one.where("false")
    assert none.transform(exact_neighbours, FEATURES, 3, "cosine").count() == 0


def test_result_does_not_depend_on_task_count(spark):
    frame = vectors_frame(spark, realistic_points(3, 500)).transform(normalize, FEATURES, "minmax").cache()
    one = frame.transform(exact_neighbours, FEATURES, 3, "euclidean", 1)
    seven = frame.transform(exact_neighbours, FEATURES, 3, "euclidean", 7)
    assert_df_equality(one, seven, ignore_row_order=True)


def query_rows(index, rows, k):
    """Ask the index about input rows; answer in input rows (the index works in its own positions)."""
    position = np.empty(index.size, dtype=np.int64)
    position[index.order] = np.arange(index.size)
    neighbours, distances = index.query(position[np.asarray(rows)], k)
    return index.order[neighbours], distances


def test_index_asks_again_when_duplicates_crowd_the_first_candidates():
    # 40 copies of one point: the first round (k + 2 candidates) cannot prove it has the lowest ids.
    points = np.vstack([np.zeros((40, 3)), np.ones((5, 3))])
    key = np.arange(45)[::-1].copy()  # reverse: the highest row number has the lowest id
    index = NeighbourIndex(points, key, "euclidean")
    neighbours, distances = query_rows(index, [0, 44], 3)
    assert neighbours[0].tolist() == [39, 38, 37]
    assert distances[0].tolist() == [0.0, 0.0, 0.0]
    assert neighbours[1].tolist() == [43, 42, 41]


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_index_matches_brute_force_on_many_queries(metric):
    rng = np.random.default_rng(8)
    points = rng.random((2000, 6))
    if metric == "cosine":
        points[::50] = 0.0
        norms = np.linalg.norm(points, axis=1, keepdims=True)
        points = np.divide(points, norms, out=np.zeros_like(points), where=norms > 0)
    key = rng.permutation(2000)
    index = NeighbourIndex(points, key, metric)
    assert sorted(index.order.tolist()) == list(range(2000))
    rows = np.arange(2000)
    neighbours, distances = query_rows(index, rows, 4)
    full = distance_array(metric, points[:, None, :], points[None, :, :])
    full[rows, rows] = np.inf
    expected = np.lexsort((np.broadcast_to(key, full.shape), full), axis=-1)[:, :4]
    assert (neighbours == expected).all()
    assert (distances == np.take_along_axis(full, expected, axis=1)).all()


def test_repeated_or_null_ids_are_refused():
    with pytest.raises(ValueError, match="repeat"):
        id_order_key(pa.array(["a", "b", "a"]))
    with pytest.raises(ValueError, match="null"):
        id_order_key(pa.array(["a", None]))


def test_non_finite_points_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        NeighbourIndex(np.array([[0.0, np.nan]]), np.array([0]), "euclidean")


def test_zero_vector_queries_get_the_lowest_ids_at_distance_one():
    points = np.array([[0.0, 0.0], [0.6, 0.8], [1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    key = np.array([4, 3, 0, 2, 1])  # row 2 has the lowest id, then 4, 3, 1, 0
    index = NeighbourIndex(points, key, "cosine")
    neighbours, distances = query_rows(index, [0, 3], 3)
    assert neighbours.tolist() == [[2, 4, 3], [2, 4, 1]]
    assert distances.tolist() == [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    assert index.tree_size == 3


def test_id_order_key_is_byte_order_for_every_kind_of_id():
    rng = np.random.default_rng(12)
    letters = ["a", "b", "Z", "0", "\x00", "é", "한"]
    ids = {"", "a", "a\x00", "ab", "artist0000", "artist0001", "x" * 40, "x" * 41, "x" * 39 + "é"}
    while len(ids) < 400:  # many share their first 8 bytes, lengths 1 to 40 bytes and more
        prefix = "artist00" if rng.random() < 0.5 else ""
        ids.add(prefix + "".join(rng.choice(letters, size=int(rng.integers(1, 30)))))
    ids = sorted(ids)
    rng.shuffle(ids)
    expected = np.argsort([i.encode() for i in ids], kind="stable")
    short = [i for i in ids if len(i.encode()) <= 32]
    expected_short = np.argsort([i.encode() for i in short], kind="stable")
    for array, order in [
        (pa.array(ids), expected),
        (pa.array(ids, pa.large_string()), expected),
        (pa.array(["zz", *ids]).slice(1), expected),
        (pa.array(short), expected_short),
        (pa.array([i.encode() for i in short], pa.binary()), expected_short),
    ]:
        key = id_order_key(array)
        assert np.argsort(key).tolist() == order.tolist()
        assert sorted(key.tolist()) == list(range(len(array)))


def test_id_order_key_refuses_repeats_sharing_a_first_word_with_others():
    with pytest.raises(ValueError, match="repeat"):
        id_order_key(pa.array(["artist0002", "artist0001", "artist0003", "artist0001", "b"]))


def test_ranking_without_a_sort_equals_the_lexsort():
    from jobs.transform.neighbours import _rank

    rng = np.random.default_rng(4)
    rows, columns, width = 3000, 6, 3
    positions = np.arange(rows) + 1000
    candidates = rng.integers(0, 1000, (rows, columns))  # others: below every query's position
    candidates[:, 0] = positions
    candidates[::7, 0], candidates[::7, 2] = candidates[::7, 2], positions[::7]  # self not first
    dist = np.sort(np.round(rng.random((rows, columns)), 2), axis=1)  # many exact ties
    dist[::5, 3], dist[::5, 4] = dist[::5, 4], dist[::5, 3]  # inversions of the tree's order
    key = rng.permutation(4000)
    best, best_dist = _rank(candidates, dist.copy(), positions, key, width)
    masked = dist.copy()
    masked[candidates == positions[:, None]] = np.inf
    ranking = np.lexsort((key[candidates], masked), axis=-1)[:, :width]
    assert (best == np.take_along_axis(candidates, ranking, axis=1)).all()
    assert (best_dist == np.take_along_axis(masked, ranking, axis=1)).all()


def test_search_reports_where_its_time_went(spark):
    from jobs.transform.neighbours import neighbours_from_arrays, search_from_arrays

    points = realistic_points(9, 400)
    ids = pa.array([f"artist{i:05d}" for i in range(400)])
    search = search_from_arrays(spark, ids, points, 3, "euclidean", 2)
    assert search.task_seconds() == {}
    rows = sorted_rows(search.frame)
    assert rows == sorted_rows(neighbours_from_arrays(spark, ids, points, 3, "euclidean", 2))
    assert set(search.driver_seconds) == {"order", "key sort", "build", "ids", "broadcast"}
    assert set(search.task_seconds()) == {"load", "query", "ranking", "arrow"}
    assert all(seconds >= 0 for seconds in [*search.driver_seconds.values(), *search.task_seconds().values()])
    assert search.tasks == 2 and "2 tasks" in search.describe()
