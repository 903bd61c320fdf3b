"""Artist vectors on the driver: Spark sums per artist, numpy does the rest, bit for bit.

The neighbour search needs every vector on the driver, so the per-artist signals
(:func:`jobs.transform.signals.artist_signals`) are collected once, as Spark computes them, and then
counted, imputed, normalized, weighted and put in the metric's space there with numpy: ``rank`` is one
sort per signal, where Spark needs an exploded row per artist and signal, a window per signal and a
pivot back.

Each step gives the same doubles as the DataFrame functions of :mod:`jobs.transform.vectors` (kept as
the reference, and for the popularity proxy), because it does the same IEEE operations in the same
order:

* ``rank``: ``(below + (ties - 1) / 2.0) / (n - 1)`` with integer counts (0 for one artist);
* ``minmax``: ``(x - min) / (max - min)``, 0 where max == min;
* ``zscore``: ``(x - mean) / sd``, 0 where sd == 0, with ``mean`` and ``sd`` aggregated by Spark in
  decimal exactly as :func:`jobs.transform.vectors.normalize` does (their rounding is Spark's);
* weights: one multiplication, for weights other than 1;
* ``cosine``: divided by ``sqrt(x1*x1 + x2*x2 + ...)`` summed left to right, a zero vector kept zero.

Means over all artists keep Spark's decimal arithmetic (imputation's, as
:func:`jobs.transform.signals.impute`, and zscore's): the collected values go back to Spark as a small
frame for those aggregates alone, only when a signal has a missing value or the normalization is zscore.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
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


NORMALIZE_THREADS = 2  # signals normalized at once: a sort of a million values is about 0.1 s of one core


def _nullable(signals: Sequence[str]) -> list[str]:
    return [s for s in signals if s in METADATA or s.endswith(SPREAD)]


def coverage(known: np.ndarray, usable_tracks: pa.Array) -> dict[str, int]:
    """The artists of a per-artist status counted as :func:`jobs.transform.vectors.coverage` counts them."""
    has_tracks = ~np.asarray(pc.is_null(usable_tracks))
    usable = np.asarray(pc.fill_null(usable_tracks, 0))
    return {
        "with_vector": int(np.sum(known & (usable > 0))),
        "no_top_tracks": int(np.sum(known & ~has_tracks)),
        "no_features": int(np.sum(known & has_tracks & (usable == 0))),
        "unknown_artists": int(np.sum(~known)),
    }


def decimal_means(spark, columns: Mapping[str, pa.ChunkedArray]) -> dict[str, float]:
    """Each column's mean over its values (nulls ignored), averaged by Spark in decimal as
    :func:`jobs.transform.vectors.decimal_mean` does; 0.0 for a column without values."""
    if not columns:
        return {}
    row = spark.createDataFrame(pa.table(dict(columns))).agg(*[decimal_mean(F.col(c)) for c in columns]).first()
    return {name: (value if value is not None else 0.0) for name, value in zip(columns, row)}


def zscore_statistics(spark, raw: np.ndarray, signals: Sequence[str]) -> tuple[list[float], list[float]]:
    """Each signal's mean and standard deviation over the rows of ``raw``, aggregated by Spark in decimal as
    :func:`jobs.transform.vectors.normalize` does (two passes: the deviations need the mean)."""
    frame = spark.createDataFrame(pa.table({s: raw[:, j] for j, s in enumerate(signals)}))
    means = frame.agg(*[decimal_mean(F.col(s)) for s in signals]).first()
    sds = frame.agg(
        *[F.sqrt(decimal_mean((F.col(s) - F.lit(m)) * (F.col(s) - F.lit(m)))) for s, m in zip(signals, means)]
    ).first()
    return [float(m) for m in means], [float(sd) for sd in sds]


def rank_quantiles(values: np.ndarray) -> np.ndarray:
    """Each value's empirical quantile 0..1 among ``values``: ties share their mid-rank, one value 0."""
    n = values.size
    if n <= 1:
        return np.zeros(n)
    order = np.argsort(values)
    ordered = values[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))  # where each run of ties starts
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

    def one(j: int) -> None:
        values = columns[:, j]
        if normalization == "rank":
            out[:, j] = rank_quantiles(values)
        elif normalization == "minmax":
            out[:, j] = minmax_scaled(values)
        else:
            means, sds = statistics
            out[:, j] = zscore_scaled(values, means[j], sds[j])

    with ThreadPoolExecutor(max_workers=NORMALIZE_THREADS) as pool:  # numpy sorts without the GIL
        list(pool.map(one, range(columns.shape[1])))
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


def artist_vectors(
    status: DataFrame, signals: Sequence[str], normalization: str, metric: str, weights=()
) -> ArtistVectors:
    """The vectors the neighbour search takes, from the per-artist ``status`` (one row per artist, as
    :func:`jobs.transform.signals.artist_signals` makes it), collected once.

    Spark computes ``status`` in one job; imputation's and zscore's means are Spark's decimal
    aggregates over the collected values (a frame of them sent back, only when a signal has a missing
    value or the normalization is zscore); the rest runs here.
    """
    signals = check_signals(signals)
    check_normalization(normalization)
    check_metric(metric)
    table = status.select("artist_id", "known", "usable_tracks", *signals).toArrow()
    known = np.asarray(table.column("known").to_numpy(zero_copy_only=False), dtype=bool)
    counts = coverage(known, table.column("usable_tracks"))
    usable = known & np.asarray(pc.fill_null(table.column("usable_tracks"), 0).to_numpy(zero_copy_only=False) > 0)
    kept = table.filter(pa.array(usable))
    missing = {s: kept.column(s) for s in _nullable(signals) if kept.column(s).null_count}
    means = decimal_means(status.sparkSession, missing)
    raw = np.empty((kept.num_rows, len(signals)))
    for j, name in enumerate(signals):
        column = pc.fill_null(kept.column(name), means[name]) if name in missing else kept.column(name)
        raw[:, j] = column.to_numpy()
    statistics = (
        zscore_statistics(status.sparkSession, raw, signals) if normalization == "zscore" and kept.num_rows else None
    )
    points = in_metric_space(weighted(normalized(raw, normalization, statistics), signals, weights), metric)
    return ArtistVectors(
        kept.column("artist_id").combine_chunks(),
        np.ascontiguousarray(points),
        signals,
        counts,
        {s: column.null_count for s, column in missing.items()},
    )


def vectors_frame(spark, vectors: ArtistVectors) -> DataFrame:
    """``artist_id`` and one column per feature: the vectors as a DataFrame (for the naive reference and
    the evaluation's statistics)."""
    columns = [vectors.ids, *[pa.array(vectors.points[:, j]) for j in range(len(vectors.features))]]
    table = pa.Table.from_arrays(columns, names=["artist_id", *vectors.features])
    return spark.createDataFrame(table)
