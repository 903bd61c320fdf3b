"""Distances between artist vectors, written once for Spark and once for numpy.

Both forms add the per-feature terms left to right in the same order, so for
the same input doubles they return the same bits: the naive Spark reference
and the numpy search then agree exactly, ties included.

* ``euclidean``: ``sqrt(sum((a_i - b_i)^2))``.
* ``cosine``: ``1 - sum(a_i * b_i)`` on vectors already scaled to unit length
  (see :func:`jobs.transform.vectors.to_metric_space`); a zero vector stays
  zero, so it lies at distance exactly 1 from every vector.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence

import numpy as np
from pyspark.sql import Column
from pyspark.sql import functions as F

METRICS = ("euclidean", "cosine")


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: choose one of {', '.join(METRICS)}")
    return metric


def distance_column(metric: str, left: Sequence[Column], right: Sequence[Column]) -> Column:
    """Spark expression for the distance between two vectors given as columns."""
    check_metric(metric)
    if metric == "euclidean":
        return F.sqrt(functools.reduce(operator.add, [(a - b) * (a - b) for a, b in zip(left, right)]))
    return F.lit(1.0) - functools.reduce(operator.add, [a * b for a, b in zip(left, right)])


def distance_array(metric: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances between vectors on the last axis of ``a`` and ``b`` (broadcast against each other)."""
    check_metric(metric)
    total = None
    for i in range(a.shape[-1]):
        if metric == "euclidean":
            diff = a[..., i] - b[..., i]
            term = diff * diff
        else:
            term = a[..., i] * b[..., i]
        total = term if total is None else total + term
    return np.sqrt(total) if metric == "euclidean" else 1.0 - total
