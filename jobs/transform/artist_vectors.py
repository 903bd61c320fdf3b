"""Artist vectors on the driver: Spark sums per artist, numpy does the rest, bit for bit.

The neighbour search needs every vector on the driver, so they are collected once, right after the
per-artist signals (:func:`jobs.transform.signals.artist_signals`) and their imputation, and then
normalized, weighted and put in the metric's space there with numpy. In Spark, ``rank`` alone took
an exploded row per artist and signal, a window per signal and a pivot back (about a third of the
job's time at 1,000,000 artists); on the driver it is one sort per signal.

Each step gives the same doubles as the DataFrame functions of :mod:`jobs.transform.vectors` (kept as
the reference, and for the popularity proxy), because it does the same IEEE operations in the same
order:

* ``rank``: ``(below + (ties - 1) / 2.0) / (n - 1)`` with integer counts (0 for one artist);
* ``minmax``: ``(x - min) / (max - min)``, 0 where max == min;
* ``zscore``: ``(x - mean) / sd``, 0 where sd == 0, with ``mean`` and ``sd`` aggregated by Spark in
  decimal exactly as :func:`jobs.transform.vectors.normalize` does (their rounding is Spark's);
* weights: one multiplication, for weights other than 1;
* ``cosine``: divided by ``sqrt(x1*x1 + x2*x2 + ...)`` summed left to right, a zero vector kept zero.

Imputation stays in Spark (decimal means, as :func:`jobs.transform.signals.impute`), in the same
aggregate that counts the artists with and without a vector: one pass over the cached signals, then
one collect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.transform.metrics import check_metric
from jobs.transform.signals import METADATA, SPREAD, check_signals
from jobs.transform.vectors import check_normalization, decimal_mean


@dataclass(frozen=True)
class ArtistVectors:
    """The vectors of the artists with a usable track: ``ids[i]`` owns row ``points[i]`` (columns in
    ``features`` order, normalized, weighted, in the metric's space).

    ``coverage``: ``with_vector``, ``no_top_tracks``, ``no_features``, ``unknown_artists`` (see
    :func:`jobs.transform.vectors.coverage`); ``imputed``: per signal, the artists whose missing value
    was replaced by the mean of the others (signals with none left out).
    """

    ids: pa.Array
    points: np.ndarray
    features: tuple[str, ...]
    coverage: dict[str, int]
    imputed: dict[str, int] = field(default_factory=dict)


def _nullable(signals: Sequence[str]) -> list[str]:
    return [s for s in signals if s in METADATA or s.endswith(SPREAD)]


def _count_where(condition: Column) -> Column:
    return F.coalesce(F.sum(F.when(condition, 1).otherwise(0)), F.lit(0)).cast("long")


def coverage_and_imputation(status: DataFrame, signals: Sequence[str]) -> tuple[dict[str, int], dict[str, int],
                                                                             dict[str, float]]:
    """``(coverage, imputed, means)`` of the cached per-artist ``status``, from one aggregate.

    ``means[s]``: the decimal mean of signal ``s`` over the usable artists that have it (0.0 when none
    has it), for the signals that can be missing, as :func:`jobs.transform.signals.impute` computes it.
    """
    known, usable_tracks = F.col("known"), F.col("usable_tracks")
    usable = known & (usable_tracks > 0)
    nullable = _nullable(signals)
    row = status.agg(
        _count_where(usable).alias("with_vector"),
        _count_where(known & usable_tracks.isNull()).alias("no_top_tracks"),
        _count_where(known & (usable_tracks == 0)).alias("no_features"),
        _count_where(~known).alias("unknown_artists"),
        *[F.count_if(usable & F.col(s).isNull()).alias(f"n_{s}") for s in nullable],
        *[decimal_mean(F.when(usable, F.col(s))).alias(f"m_{s}") for s in nullable]).first()
    coverage = {name: int(row[name]) for name in ("with_vector", "no_top_tracks", "no_features", "unknown_artists")}
    imputed = {s: int(row[f"n_{s}"]) for s in nullable if row[f"n_{s}"]}
    means = {s: (row[f"m_{s}"] if row[f"m_{s}"] is not None else 0.0) for s in nullable}
    return coverage, imputed, means


def imputed_signals(status: DataFrame, signals: Sequence[str], means: Mapping[str, float],
                    imputed: Mapping[str, int]) -> DataFrame:
    """``artist_id`` and ``signals`` of the usable artists, each missing value replaced by ``means``."""
    usable = status.where(F.col("known") & (F.col("usable_tracks") > 0))
    return usable.select("artist_id", *[F.coalesce(F.col(s), F.lit(means[s])).alias(s) if s in imputed
                                        else F.col(s) for s in signals])


def zscore_statistics(vectors: DataFrame, signals: Sequence[str]) -> tuple[list[float], list[float]]:
    """Each signal's mean and standard deviation over ``vectors``, in decimal as
    :func:`jobs.transform.vectors.normalize` aggregates them (two passes: the deviations need the mean)."""
    means = vectors.agg(*[decimal_mean(F.col(s)) for s in signals]).first()
    sds = vectors.agg(*[F.sqrt(decimal_mean((F.col(s) - F.lit(m)) * (F.col(s) - F.lit(m))))
                        for s, m in zip(signals, means)]).first()
    return [float(m) for m in means], [float(sd) for sd in sds]


def rank_quantiles(values: np.ndarray) -> np.ndarray:
    """Each value's empirical quantile 0..1 among ``values``: ties share their mid-rank, one value 0."""
    n = values.size
    if n <= 1:
        return np.zeros(n)
    order = np.argsort(values)
    ordered = values[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))   # where each run of ties starts
    lengths = np.diff(np.append(starts, n))
    below, ties = np.repeat(starts, lengths), np.repeat(lengths, lengths)
    quantiles = np.empty(n)
    quantiles[order] = (below + (ties - 1) / 2.0) / (n - 1)
    return quantiles


def minmax_scaled(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to 0..1 by their minimum and maximum; all 0 when those are equal."""
    if values.size == 0:
        return values.copy()
    low, high = values.min(), values.max()
    return (values - low) / (high - low) if high > low else np.zeros(values.size)


def zscore_scaled(values: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """``(values - mean) / sd``; all 0 when ``sd`` is 0."""
    centred = values - mean
    return centred / sd if sd > 0 else np.zeros(values.size)


def normalized(columns: np.ndarray, normalization: str, statistics: tuple | None = None) -> np.ndarray:
    """``columns`` (one signal per column) normalized per column; ``statistics``: zscore's means and sds."""
    check_normalization(normalization)
    out = np.empty(columns.shape)
    for j in range(columns.shape[1]):
        values = columns[:, j]
        if normalization == "rank":
            out[:, j] = rank_quantiles(values)
        elif normalization == "minmax":
            out[:, j] = minmax_scaled(values)
        else:
            means, sds = statistics
            out[:, j] = zscore_scaled(values, means[j], sds[j])
    return out


def weighted(points: np.ndarray, features: Sequence[str], weights) -> np.ndarray:
    """Each column multiplied by its feature's weight (``{feature: w}`` or pairs; 1 when not given)."""
    weights = dict(weights or {})
    for j, name in enumerate(features):
        weight = float(weights.get(name, 1.0))
        if weight != 1.0:
            points[:, j] = points[:, j] * weight
    return points


def in_metric_space(points: np.ndarray, metric: str) -> np.ndarray:
    """Unchanged for euclidean; each row divided by its length for cosine (a zero row stays zero)."""
    if check_metric(metric) == "euclidean" or points.shape[0] == 0:
        return points
    squares = points[:, 0] * points[:, 0]
    for j in range(1, points.shape[1]):
        squares = squares + points[:, j] * points[:, j]
    norm = np.sqrt(squares)
    scaled = np.zeros(points.shape)
    moving = norm > 0
    scaled[moving] = points[moving] / norm[moving, None]
    return scaled


def artist_vectors(status: DataFrame, signals: Sequence[str], normalization: str, metric: str,
                   weights=()) -> ArtistVectors:
    """The vectors the neighbour search takes, from the per-artist ``status`` (cache it: it is read twice).

    Spark runs one aggregate (coverage, imputation) and one collect (two more aggregates for zscore);
    the rest runs here.
    """
    signals = check_signals(signals)
    check_normalization(normalization)
    check_metric(metric)
    coverage, imputed, means = coverage_and_imputation(status, signals)
    frame = imputed_signals(status, signals, means, imputed)
    statistics = zscore_statistics(frame, signals) if normalization == "zscore" and coverage["with_vector"] else None
    table = frame.toArrow()
    raw = np.column_stack([table.column(s).to_numpy() for s in signals]) if table.num_rows else \
        np.empty((0, len(signals)))
    points = in_metric_space(weighted(normalized(raw, normalization, statistics), signals, weights), metric)
    return ArtistVectors(table.column("artist_id").combine_chunks(), np.ascontiguousarray(points), signals,
                         coverage, imputed)


def vectors_frame(spark, vectors: ArtistVectors) -> DataFrame:
    """``artist_id`` and one column per feature: the vectors as a DataFrame (for the naive reference and
    the evaluation's statistics)."""
    columns = [vectors.ids, *[pa.array(vectors.points[:, j]) for j in range(len(vectors.features))]]
    table = pa.Table.from_arrays(columns, names=["artist_id", *vectors.features])
    return spark.createDataFrame(table)
