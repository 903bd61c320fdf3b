"""Normalization, weights and metric space on the driver (numpy): the rules, without Spark.

That they give Spark's doubles bit for bit is checked beside the Spark reference, in test_signals.py.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from jobs.transform.artist_vectors import (
    in_metric_space,
    minmax_scaled,
    normalized,
    rank_quantiles,
    weighted,
    zscore_scaled,
)


def bits(values) -> list[str]:
    return [float(v).hex() for v in np.asarray(values).ravel()]


def test_rank_gives_each_value_its_quantile_with_mid_ranks_for_ties():
    assert rank_quantiles(np.array([3.0, 1.0, 2.0, 2.0])).tolist() == [1.0, 0.0, 0.5, 0.5]
    assert rank_quantiles(np.array([7.0])).tolist() == [0.0]  # one artist
    assert rank_quantiles(np.array([2.0, 2.0, 2.0])).tolist() == [0.5, 0.5, 0.5]  # one value
    assert rank_quantiles(np.array([0.0, -0.0, 1.0])).tolist() == [0.25, 0.25, 1.0]  # -0.0 ties with 0.0, as in Spark
    assert rank_quantiles(np.array([])).size == 0


@given(st.lists(st.integers(-3, 3), min_size=2, max_size=60))
def test_rank_is_the_mid_rank_formula_of_the_spark_reference(values):
    x = np.array(values, dtype=float) / 2.0
    below = np.array([np.sum(x < v) for v in x])
    ties = np.array([np.sum(x == v) for v in x])
    assert bits(rank_quantiles(x)) == bits((below + (ties - 1) / 2.0) / (x.size - 1))


def test_minmax_and_zscore_give_zero_for_a_constant_signal_instead_of_dividing_by_zero():
    assert minmax_scaled(np.array([4.0, 4.0])).tolist() == [0.0, 0.0]
    assert minmax_scaled(np.array([1.0, 3.0, 2.0])).tolist() == [0.0, 1.0, 0.5]
    assert zscore_scaled(np.array([4.0, 4.0]), 4.0, 0.0).tolist() == [0.0, 0.0]
    assert zscore_scaled(np.array([1.0, 3.0]), 2.0, 1.0).tolist() == [-1.0, 1.0]
    columns = np.array([[1.0, 5.0], [3.0, 5.0]])
    assert normalized(columns, "zscore", ([2.0, 5.0], [1.0, 0.0])).tolist() == [[-1.0, 0.0], [1.0, 0.0]]


def test_weights_multiply_their_own_signal_only():
    points = weighted(np.array([[1.0, 2.0, 3.0]]), ["a", "b", "c"], {"b": 2.0, "c": 1.0})
    assert points.tolist() == [[1.0, 4.0, 3.0]]


def test_cosine_scales_rows_to_unit_length_and_keeps_a_zero_row_zero():
    space = in_metric_space(np.array([[3.0, 4.0], [0.0, 0.0]]), "cosine")
    assert space.tolist() == [[0.6, 0.8], [0.0, 0.0]]
    plain = np.array([[3.0, 4.0]])
    assert in_metric_space(plain, "euclidean") is plain
