"""What an artist vector is made of: signals per artist, imputation, presets, a popularity proxy.

A *signal* is one number per artist, named in ``similarity.features``:

* an audio feature (``energy``, ``tempo``, any of :data:`AUDIO_FEATURE_NAMES`): its mean over the
  artist's usable top tracks (tracks whose chosen audio features are all finite numbers);
* ``<audio feature>_sd`` (``energy_sd``): its spread, the population standard deviation over the
  same tracks; undefined (imputed) for an artist with a single usable track;
* artist metadata (:data:`METADATA`): ``track_popularity`` (mean over its top tracks),
  ``artist_popularity``, ``track_duration`` (mean duration_ms of its top tracks), ``track_count``
  (its distinct top tracks) and ``release_year`` (mean release year of its top tracks).

An artist without a usable track has no sound to compare and gets no vector. Any other missing
value (popularity that Spotify no longer returns, a missing release date, a single-track spread)
never drops the artist: it is imputed with the mean over the artists that have it, and counted.

``shared_tracks`` says how a track credited to several artists counts in their means: ``full``
(as a track of each) or ``split`` (weighted 1/number of its credited artists in the snapshot).

Sums are exact (fixed point for means, integer sums of squares for spreads, decimals over all
artists), so the same snapshot gives the same values bit for bit, whatever the row order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.transform.vectors import (
    _FIXED_POINT,
    AUDIO_FEATURE_NAMES,
    DEFAULT_FEATURES,
    all_present,
    complete_features,
    decimal_mean,
    finite_or_null,
    fixed_point,
    fixed_point_mean,
    normalize,
    quantiles,
    to_metric_space,
    weigh,
)

SPREAD = "_sd"
METADATA = ("track_popularity", "artist_popularity", "track_duration", "track_count", "release_year")
SHARED_TRACKS = ("full", "split")

# Named settings. "seed" is the project's first setting, kept reachable as it was; "default" is
# the one chosen by jobs/evaluate.py on real data (README, "How related artists are found").
# How much the blend trusts listening data over sound (jobs/transform/blend.py), fitted by jobs/evaluate.py
# --fit on held-out listeners (README, "How related artists are found").
DEFAULT_LISTENERS_WEIGHT = 0.7

PRESETS: dict[str, dict] = {
    "seed": {
        "features": list(DEFAULT_FEATURES),
        "normalization": "minmax",
        "metric": "euclidean",
        "weights": {},
        "shared_tracks": "full",
        "listeners_weight": 0.0,
    },
    # Chosen on two public tables with genres (README, "How related artists are found"): the issue's
    # one-row-per-artist data_w_genres.csv (28,680 artists, fine genres), where forward selection from the
    # seed six adds track popularity, duration, valence, track count and tempo with rank normalization
    # (0.109 -> 0.204, 1.87x), and the TidyTuesday spotify_songs.csv, where release_year adds most
    # (0.440 -> 0.523). Twelve dimensions: the exact search costs about 3x the eight of "fast".
    "default": {
        "features": [
            *DEFAULT_FEATURES,
            "release_year",
            "tempo",
            "valence",
            "track_popularity",
            "duration_ms",
            "track_count",
        ],
        "normalization": "rank",
        "metric": "euclidean",
        "weights": {},
        "shared_tracks": "full",
        "listeners_weight": DEFAULT_LISTENERS_WEIGHT,
    },
    # For lakes where the search time matters more: eight signals, zscore (0.125 and 0.507 on the two
    # tables; the 1,000,000-artist job in about half the default's time).
    "fast": {
        "features": [*DEFAULT_FEATURES, "release_year", "tempo"],
        "normalization": "zscore",
        "metric": "euclidean",
        "weights": {},
        "shared_tracks": "full",
        "listeners_weight": DEFAULT_LISTENERS_WEIGHT,
    },
}
# The default's sound alone, without listening data: the default of the second round.
PRESETS["sound"] = {**PRESETS["default"], "listeners_weight": 0.0}


def signal_names() -> list[str]:
    return [*AUDIO_FEATURE_NAMES, *[f + SPREAD for f in AUDIO_FEATURE_NAMES], *METADATA]


def check_signals(signals: Sequence[str]) -> tuple[str, ...]:
    signals = tuple(signals)
    if not signals:
        raise ValueError("the feature list is empty")
    known = set(signal_names())
    unknown = [s for s in signals if s not in known]
    if unknown:
        raise ValueError(
            f"unknown audio feature(s) or signal(s) {', '.join(unknown)}: choose from audio features "
            f"{', '.join(AUDIO_FEATURE_NAMES)}, their spread as <feature>{SPREAD}, or "
            f"{', '.join(METADATA)}"
        )
    if len(set(signals)) != len(signals):
        raise ValueError(f"the feature list repeats a feature: {', '.join(signals)}")
    return signals


def check_weights(weights: Mapping, signals: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """``{signal: weight}`` as sorted pairs; every weight a finite number >= 0, every name a chosen signal."""
    pairs = []
    for name, weight in dict(weights or {}).items():
        if name not in signals:
            raise ValueError(f"weight for {name!r}, which is not among the features ({', '.join(signals)})")
        try:
            value = float(weight)
        except (TypeError, ValueError):
            raise ValueError(f"weight of {name} is not a number: {weight!r}") from None
        if not value >= 0.0 or value == float("inf"):
            raise ValueError(f"weight of {name} must be a finite number >= 0, got {weight!r}")
        pairs.append((name, value))
    return tuple(sorted(pairs))


def check_shared_tracks(mode: str) -> str:
    if mode not in SHARED_TRACKS:
        raise ValueError(f"unknown shared_tracks {mode!r}: choose one of {', '.join(SHARED_TRACKS)}")
    return mode


def audio_parts(signals: Sequence[str]) -> tuple[str, ...]:
    """The audio features the signals read (means and spreads), in first-use order."""
    wanted = [s[: -len(SPREAD)] if s.endswith(SPREAD) else s for s in signals if s not in METADATA]
    return tuple(dict.fromkeys(wanted))


def features_on_tracks(top_tracks: DataFrame, from_log: bool | None = None) -> bool:
    """True when ``top_tracks`` (one snapshot) holds the tracks' audio features on their rows
    (``schemas.TOP_TRACKS_WITH_AUDIO``), as every source writes them now: some row has a value in one of
    the ``audio_features`` fields. False for older snapshots, whose rows leave ``audio_features`` null (or
    lack it); a snapshot without any feature value gives the same signals either way.

    ``from_log`` is the answer of the lake's file statistics when they give one
    (``Lake.column_has_values``): then no data is read. Otherwise this reads at most one row."""
    if "audio_features" not in top_tracks.columns:
        return False
    if from_log is not None:
        return from_log
    fields = top_tracks.schema["audio_features"].dataType.fieldNames()
    some_value = reduce(lambda a, b: a | b, [F.col("audio_features").getField(f).isNotNull() for f in fields])
    return not top_tracks.where(some_value).select("track_id").isEmpty()


def features_to_join(tables: Mapping[str, DataFrame], from_log: bool | None = None) -> DataFrame | None:
    """What :func:`artist_signals` takes as ``audio_features`` for a snapshot's ``tables``: None when the
    features are on the track rows (:func:`features_on_tracks`, ``from_log`` as there), else
    ``tables["audio_features"]``."""
    return None if features_on_tracks(tables["top_tracks"], from_log) else tables["audio_features"]


def artist_signals(
    top_tracks: DataFrame,
    audio_features: DataFrame | None,
    artists: DataFrame,
    signals: Sequence[str],
    shared_tracks: str = "full",
) -> DataFrame:
    """One row per artist of ``top_tracks`` or ``artists``: ``artist_id, known, tracks, usable_tracks, <signals>``.

    Audio means are null when the artist has no usable track, other signals when the data lacks
    them (see :func:`impute`). A track listed twice for an artist counts once; a track with several
    complete feature rows takes the smallest value of each feature.

    ``audio_features`` None: the features are read from ``top_tracks.audio_features`` (see
    :func:`features_on_tracks`), whose rows are one per (artist_id, track_id) by the lake's contract:
    then there is no join and no de-duplication, and the result is the same as from the two tables.
    """
    signals, audio = check_signals(signals), audio_parts(signals)
    check_shared_tracks(shared_tracks)
    columns = set(top_tracks.columns)
    release = F.col("release_date") if "release_date" in columns else F.lit(None).cast("date")
    on_rows = audio_features is None
    tracks = top_tracks.select(
        "artist_id",
        "track_id",
        F.col("popularity").cast("double").alias("_pop"),
        F.col("duration_ms").cast("double").alias("_dur"),
        F.year(release).cast("double").alias("_year"),
        *[finite_or_null(F.col("audio_features").getField(f)).alias(f) for f in (audio if on_rows else ())],
    ).where(F.col("artist_id").isNotNull() & F.col("track_id").isNotNull())
    if shared_tracks == "split":
        credits = tracks.groupBy("track_id").agg(F.countDistinct("artist_id").alias("_credits"))
        tracks = tracks.join(credits, "track_id")
    if on_rows:
        complete = all_present(audio)
        per_track = tracks.select(
            *[F.when(complete, F.col(c)).alias(c) if c in audio else F.col(c) for c in tracks.columns]
        )
    else:
        with_features = tracks.join(complete_features(audio_features, audio), "track_id", "left") if audio else tracks
        per_track = with_features.groupBy("track_id", "artist_id").agg(
            *[F.min(f).alias(f) for f in audio],
            *[F.min(c).alias(c) for c in ("_pop", "_dur", "_year")],
            *([F.min("_credits").alias("_credits")] if shared_tracks == "split" else []),
        )
    usable = F.col(audio[0]).isNotNull() if audio else F.lit(True)
    weight = F.lit(1.0) / F.col("_credits") if shared_tracks == "split" else None

    def mean(column: Column, count: Column | None = None) -> Column:
        return fixed_point_mean(column, count) if weight is None else weighted_mean(column, weight)

    # A per-track audio value is null exactly when the track is not usable: their means share that count.
    aggregates = {"tracks": F.count(F.lit(1)), "usable_tracks": F.count_if(usable)}
    for name in signals:
        if name in METADATA:
            aggregates[name] = {
                "track_popularity": mean(F.col("_pop")),
                "track_duration": mean(F.col("_dur")),
                "release_year": mean(F.col("_year")),
                "track_count": F.count(F.lit(1)).cast("double"),
                "artist_popularity": F.lit(None).cast("double"),
            }[name]
        elif name.endswith(SPREAD):
            aggregates[name] = spread(F.col(name[: -len(SPREAD)]))
        else:
            aggregates[name] = mean(F.col(name), aggregates["usable_tracks"])
    stats = per_track.groupBy("artist_id").agg(*[value.alias(name) for name, value in aggregates.items()])
    known = (
        artists.where(F.col("artist_id").isNotNull())
        .groupBy("artist_id")
        .agg(F.max(F.col("popularity")).cast("double").alias("_artist_popularity"))
        .withColumn("known", F.lit(True))
    )
    joined = stats.join(known, "artist_id", "full_outer").withColumn("known", F.coalesce(F.col("known"), F.lit(False)))
    if "artist_popularity" in signals:
        joined = joined.withColumn("artist_popularity", F.col("_artist_popularity"))
    return joined.drop("_artist_popularity")


def weighted_mean(column: Column, weight: Column) -> Column:
    """``sum(w x) / sum(w)`` over non-null ``x``, each term rounded to fixed point first: order does not matter."""
    units = fixed_point(column * weight)
    mass = F.when(column.isNotNull(), fixed_point(weight))
    return F.sum(units) / F.sum(mass)


def spread(column: Column) -> Column:
    """Population standard deviation of a few doubles from exact integer sums; null below two values."""
    units = fixed_point(column)
    n = F.count(units)
    total = F.sum(units).cast("decimal(38,0)")
    squares = F.sum(units.cast("decimal(38,0)") * units.cast("decimal(38,0)"))
    variance = (n.cast("decimal(38,0)") * squares - total * total).cast("double") / (n * n).cast("double")
    return F.when(n >= 2, F.sqrt(F.greatest(variance, F.lit(0.0))) / F.lit(_FIXED_POINT))


def usable_signals(status: DataFrame, signals: Sequence[str]) -> DataFrame:
    """``artist_id`` plus signals, for known artists with at least one usable track."""
    return status.where(F.col("known") & (F.col("usable_tracks") > 0)).select("artist_id", *signals)


def impute(vectors: DataFrame, signals: Sequence[str]) -> tuple[DataFrame, dict[str, int]]:
    """Each null signal replaced by that signal's mean over the artists that have it (0 when none has it).

    Returns the frame and, per signal, how many artists were imputed (signals with none left out).
    Audio means are never null here (:func:`usable_signals`), so they cost nothing.
    """
    nullable = [s for s in signals if s in METADATA or s.endswith(SPREAD)]
    if not nullable:
        return vectors, {}
    row = vectors.agg(
        *[F.count_if(F.col(s).isNull()).alias(f"n_{s}") for s in nullable],
        *[decimal_mean(F.col(s)).alias(f"m_{s}") for s in nullable],
    ).first()
    counts = {s: int(row[f"n_{s}"]) for s in nullable if row[f"n_{s}"]}
    filled = vectors.select(
        "artist_id",
        *[
            F.coalesce(F.col(s), F.lit(row[f"m_{s}"] if row[f"m_{s}"] is not None else 0.0)).alias(s)
            if s in counts
            else F.col(s)
            for s in signals
        ],
    )
    return filled, counts


def popularity_proxy(artists: DataFrame, top_tracks: DataFrame) -> tuple[DataFrame, dict[str, int]]:
    """``artists`` with every null popularity filled, and how each artist's popularity was had.

    In order: the artist's own popularity; else the rounded mean popularity of its top tracks;
    else a proxy, ``round(100 * (q(track count) + q(latest release year)) / 2)``, where ``q`` is
    the quantile among the artists that need the proxy (an artist without dates ranks lowest).
    When every artist has its own popularity, ``artists`` comes back as it is (one counting job).
    """
    counted = artists.agg(F.count(F.lit(1)).alias("rows"), F.count_if(F.col("popularity").isNull()).alias("missing"))
    total, missing = counted.first()
    if not missing:
        return artists, ({"artists": int(total)} if total else {})
    release = F.col("release_date") if "release_date" in top_tracks.columns else F.lit(None).cast("date")
    per_artist = (
        top_tracks.where(F.col("artist_id").isNotNull())
        .groupBy("artist_id")
        .agg(
            F.round(fixed_point_mean(F.col("popularity").cast("double"))).cast("int").alias("_tracks_pop"),
            F.countDistinct("track_id").cast("double").alias("_count"),
            F.coalesce(F.max(F.year(release)), F.lit(0)).cast("double").alias("_latest"),
        )
    )
    joined = artists.join(per_artist, "artist_id", "left").withColumn(
        "_how",
        F.when(F.col("popularity").isNotNull(), "artists")
        .when(F.col("_tracks_pop").isNotNull(), "tracks")
        .otherwise("proxy"),
    )
    needs = joined.where(F.col("_how") == "proxy").select(
        "artist_id",
        F.coalesce("_count", F.lit(0.0)).alias("_count"),
        F.coalesce("_latest", F.lit(0.0)).alias("_latest"),
    )
    scored = quantiles(needs, "_count", "_latest").select(
        "artist_id", F.round(F.lit(50.0) * (F.col("_count") + F.col("_latest"))).cast("int").alias("_proxy")
    )
    filled = joined.join(scored, "artist_id", "left").withColumn(
        "popularity", F.coalesce(F.col("popularity"), F.col("_tracks_pop"), F.col("_proxy"))
    )
    counts = {row["_how"]: int(row["n"]) for row in joined.groupBy("_how").agg(F.count(F.lit(1)).alias("n")).collect()}
    return filled.select(*artists.columns), counts


def signal_vectors(
    status: DataFrame,
    signals: Sequence[str],
    normalization: str,
    metric: str,
    weights: Sequence[tuple[str, float]] = (),
) -> tuple[DataFrame, dict[str, int]]:
    """What the neighbour search takes: usable artists' signals, imputed, normalized, weighted, in the
    metric's space; and the imputation counts (:func:`impute`)."""
    vectors, imputed = impute(usable_signals(status, signals), signals)
    return (
        vectors.transform(normalize, signals, normalization)
        .transform(weigh, signals, weights)
        .transform(to_metric_space, signals, metric)
    ), imputed
