"""From lake tables to one normalized vector per artist (pure DataFrame -> DataFrame functions).

Chain them with ``DataFrame.transform``::

    status = (top_tracks.transform(artist_feature_stats, audio_features, features)
                        .transform(attach_artists, artists))
    vectors = status.transform(metric_vectors, features, "minmax", "euclidean")

Sums are exact (integers in fixed point per artist, decimals over all
artists), so the result does not depend on the order in which Spark's shuffle
delivers rows: the same snapshot always gives the same vectors, bit for bit.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.transform.metrics import check_metric

DEFAULT_FEATURES = ("danceability", "energy", "loudness", "speechiness", "acousticness", "instrumentalness")
AUDIO_FEATURE_NAMES = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
    "time_signature",
)
NORMALIZATIONS = ("minmax", "zscore", "rank")

# Per-artist means: values in units of 2^-30 (about 1e-9), summed as longs; exact while |x| * rows < 8.6e9,
# ample for a few dozen tracks of any audio feature. An overflow fails the job (ANSI mode), never wraps.
_FIXED_POINT = 2.0**30
# From 2^52 on, a double has no fraction; below it, floor(|x|) and |x| - floor(|x|) are exact.
_EXACT_FRACTIONS = 2.0**52
# Means over all artists: any audio feature (|x| < 1e20), exact to 1e-18.
_DECIMAL = "decimal(38,18)"


def check_features(features: Sequence[str]) -> tuple[str, ...]:
    features = tuple(features)
    if not features:
        raise ValueError("the feature list is empty")
    unknown = [f for f in features if f not in AUDIO_FEATURE_NAMES]
    if unknown:
        raise ValueError(f"unknown audio feature(s) {', '.join(unknown)}: choose from {', '.join(AUDIO_FEATURE_NAMES)}")
    if len(set(features)) != len(features):
        raise ValueError(f"the feature list repeats a feature: {', '.join(features)}")
    return features


def check_normalization(method: str) -> str:
    if method not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {method!r}: choose one of {', '.join(NORMALIZATIONS)}")
    return method


def round_half_up(value: Column) -> Column:
    """``F.round(value).cast("long")`` for a double, without Spark's BigDecimal per value: the same long.

    Below 2^52 the whole part and the fraction of ``|value|`` are exact doubles, so ``floor(|x|) +
    (|x| - floor(|x|) >= 0.5)`` with the sign put back is HALF_UP exactly (``floor(|x| + 0.5)`` is not:
    0.49999999999999994 + 0.5 rounds to 1.0). From 2^52 on every double is already an integer, and
    NaN, infinities and values beyond a long take the plain cast, which fails as before (ANSI mode).
    """
    size = F.abs(value)
    whole = F.floor(size)
    units = whole + (size - whole >= F.lit(0.5)).cast("long")
    return F.when(size < F.lit(_EXACT_FRACTIONS), F.when(value < 0, -units).otherwise(units)).otherwise(
        value.cast("long")
    )


def fixed_point(column: Column) -> Column:
    """``column`` (a double) in units of 2^-30 as a long, rounded half away from zero."""
    return round_half_up(column * F.lit(_FIXED_POINT))


def fixed_point_mean(column: Column, count: Column | None = None) -> Column:
    """Mean of a few doubles (nulls ignored) to within 1e-9, summed exactly: row order does not matter.

    ``count``: an aggregate counting the rows where ``column`` is not null, when several means share it.
    """
    units = fixed_point(column)
    return F.sum(units) / (F.count(units) if count is None else count) / F.lit(_FIXED_POINT)


def decimal_mean(column: Column) -> Column:
    """Mean of many doubles (nulls ignored), summed exactly in decimal: row order does not matter."""
    return F.avg(column.cast(_DECIMAL)).cast("double")


def finite_or_null(column: Column) -> Column:
    """``column`` as a double, with NaN and +/-infinity turned into null."""
    value = column.cast("double")
    return F.when(F.isnan(value) | (F.abs(value) == F.lit(float("inf"))), F.lit(None).cast("double")).otherwise(value)


def all_present(columns: Sequence[str]) -> Column:
    """True where none of ``columns`` is null (True for no columns)."""
    return functools.reduce(operator.and_, [F.col(c).isNotNull() for c in columns], F.lit(True))


def complete_features(audio_features: DataFrame, features: Sequence[str]) -> DataFrame:
    """``track_id`` plus ``features`` for the feature rows where every chosen feature is a finite number."""
    cleaned = audio_features.select("track_id", *[finite_or_null(F.col(f)).alias(f) for f in features])
    return cleaned.where(all_present(("track_id", *features)))


def artist_feature_stats(top_tracks: DataFrame, audio_features: DataFrame, features: Sequence[str]) -> DataFrame:
    """One row per artist of ``top_tracks``: ``artist_id, tracks, usable_tracks, <feature means>``.

    ``tracks`` counts the artist's distinct top tracks, ``usable_tracks`` those
    with complete features; each mean is over the usable tracks (to within
    1e-9) and is null when there are none. A track listed twice for an artist counts once; a
    track credited to several artists counts for each; a track with several
    complete feature rows takes the smallest value of each feature.
    """
    features = check_features(features)
    tracks = top_tracks.select("artist_id", "track_id").where(
        F.col("artist_id").isNotNull() & F.col("track_id").isNotNull()
    )
    with_features = tracks.join(complete_features(audio_features, features), "track_id", "left")
    # Grouped by (track_id, artist_id) right after a join on track_id: no extra shuffle.
    per_track = with_features.groupBy("track_id", "artist_id").agg(*[F.min(f).alias(f) for f in features])
    return per_track.groupBy("artist_id").agg(
        F.count(F.lit(1)).alias("tracks"),
        F.count(F.col(features[0])).alias("usable_tracks"),
        *[fixed_point_mean(F.col(f)).alias(f) for f in features],
    )


def attach_artists(stats: DataFrame, artists: DataFrame) -> DataFrame:
    """``stats`` joined with the artists table: one row per artist found in either.

    Adds ``known`` (the artist is in the artists table); artists without top
    tracks get null ``tracks``/``usable_tracks``.
    """
    known = (
        artists.select("artist_id").where(F.col("artist_id").isNotNull()).distinct().withColumn("known", F.lit(True))
    )
    return stats.join(known, "artist_id", "full_outer").withColumn("known", F.coalesce(F.col("known"), F.lit(False)))


def coverage(status: DataFrame) -> DataFrame:
    """One row counting the artists of :func:`attach_artists` by whether they get a vector.

    ``with_vector``: in the artists table with at least one usable track;
    ``no_top_tracks``: in the artists table, no top track in the snapshot;
    ``no_features``: top tracks, but none with complete features;
    ``unknown_artists``: top tracks of artists missing from the artists table (ignored).
    """
    known, usable = F.col("known"), F.col("usable_tracks")

    def count_where(condition: Column) -> Column:
        return F.coalesce(F.sum(F.when(condition, 1).otherwise(0)), F.lit(0)).cast("long")

    return status.agg(
        count_where(known & (usable > 0)).alias("with_vector"),
        count_where(known & usable.isNull()).alias("no_top_tracks"),
        count_where(known & (usable == 0)).alias("no_features"),
        count_where(~known).alias("unknown_artists"),
    )


def usable_vectors(status: DataFrame, features: Sequence[str]) -> DataFrame:
    """``artist_id`` plus feature means, for known artists with at least one usable track."""
    return status.where(F.col("known") & (F.col("usable_tracks") > 0)).select("artist_id", *features)


def normalize(vectors: DataFrame, features: Sequence[str], method: str = "minmax") -> DataFrame:
    """Scale each feature over all artists: ``minmax`` to 0..1, ``zscore`` to mean 0 and sd 1, or
    ``rank`` to its empirical quantile 0..1 (ties share their mid-rank).

    A feature with a single value over all artists (max == min, or sd == 0)
    becomes 0 for everyone (0.5 for ``rank``) rather than a division by zero.
    """
    check_normalization(method)
    if method == "rank":
        return quantiles(vectors.select("artist_id", *features), *features)
    if method == "minmax":
        bounds = vectors.agg(
            *[F.min(f).alias(f"_lo_{f}") for f in features], *[F.max(f).alias(f"_hi_{f}") for f in features]
        )
        scaled = vectors.crossJoin(F.broadcast(bounds))
        return scaled.select(
            "artist_id",
            *[
                F.when(
                    F.col(f"_hi_{f}") > F.col(f"_lo_{f}"),
                    (F.col(f) - F.col(f"_lo_{f}")) / (F.col(f"_hi_{f}") - F.col(f"_lo_{f}")),
                )
                .otherwise(F.lit(0.0))
                .alias(f)
                for f in features
            ],
        )
    means = vectors.agg(*[decimal_mean(F.col(f)).alias(f"_mean_{f}") for f in features])
    centred = vectors.crossJoin(F.broadcast(means)).select(
        "artist_id", *[(F.col(f) - F.col(f"_mean_{f}")).alias(f) for f in features]
    )
    spreads = centred.agg(*[F.sqrt(decimal_mean(F.col(f) * F.col(f))).alias(f"_sd_{f}") for f in features])
    return centred.crossJoin(F.broadcast(spreads)).select(
        "artist_id",
        *[F.when(F.col(f"_sd_{f}") > 0, F.col(f) / F.col(f"_sd_{f}")).otherwise(F.lit(0.0)).alias(f) for f in features],
    )


def quantiles(frame: DataFrame, *columns: str) -> DataFrame:
    """``frame`` (one row per ``artist_id``) with each of ``columns`` replaced by its empirical quantile 0..1.

    ``(values below + (values equal - 1) / 2) / (rows - 1)``: ties share their mid-rank; a single
    row gives 0, a single value 0.5. All columns in one pass: the values in long form, one window
    per column ordered by value (``rank`` gives the values below, a range frame the ties too), then
    pivoted back to one row per artist.
    """
    if not columns:
        return frame
    long = frame.select(
        "artist_id",
        F.explode(F.array(*[F.struct(F.lit(c).alias("c"), F.col(c).cast("double").alias("v")) for c in columns])).alias(
            "_cv"
        ),
    ).select("artist_id", "_cv.c", "_cv.v")
    ordered = Window.partitionBy("c").orderBy("v")
    below = F.rank().over(ordered) - 1
    up_to_ties = F.count(F.lit(1)).over(ordered.rangeBetween(Window.unboundedPreceding, Window.currentRow))
    total = F.count(F.lit(1)).over(Window.partitionBy("c"))
    ranked = long.select(
        "artist_id",
        "c",
        F.when(total > 1, (below + (up_to_ties - below - 1) / 2.0) / (total - 1)).otherwise(F.lit(0.0)).alias("_q"),
    )
    wide = ranked.groupBy("artist_id").agg(*[F.max(F.when(F.col("c") == c, F.col("_q"))).alias(c) for c in columns])
    rest = [c for c in frame.columns if c not in columns]
    if rest == ["artist_id"]:
        return wide.select(*frame.columns)
    return frame.select(*rest).join(wide, "artist_id", "left").select(*frame.columns)


def weigh(vectors: DataFrame, features: Sequence[str], weights) -> DataFrame:
    """Each feature multiplied by its weight (``{feature: w}`` or pairs; 1 when not given), before the search.

    Distances then weigh the features so, and the search stays exact.
    """
    weights = dict(weights or {})
    if all(weights.get(f, 1.0) == 1.0 for f in features):
        return vectors
    return vectors.select(
        "artist_id",
        *[(F.col(f) * F.lit(float(weights[f]))).alias(f) if weights.get(f, 1.0) != 1.0 else F.col(f) for f in features],
    )


def to_metric_space(vectors: DataFrame, features: Sequence[str], metric: str) -> DataFrame:
    """Vectors in the form the metric works on: unchanged for euclidean, unit length for cosine.

    A zero vector has no direction; it stays zero, at cosine distance 1 from every artist.
    """
    if check_metric(metric) == "euclidean":
        return vectors
    norm = F.sqrt(functools.reduce(operator.add, [F.col(f) * F.col(f) for f in features]))
    with_norm = vectors.withColumn("_norm", norm)
    return with_norm.select(
        "artist_id",
        *[F.when(F.col("_norm") > 0, F.col(f) / F.col("_norm")).otherwise(F.lit(0.0)).alias(f) for f in features],
    )


def metric_vectors(status: DataFrame, features: Sequence[str], normalization: str, metric: str) -> DataFrame:
    """:func:`usable_vectors`, normalized, in the metric's space: what the neighbour search takes."""
    return (
        status.transform(usable_vectors, features)
        .transform(normalize, features, normalization)
        .transform(to_metric_space, features, metric)
    )
