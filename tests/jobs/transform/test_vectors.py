"""Artist vectors from lake rows: means, edge cases, normalization, metric space (chispa on tiny frames)."""

from __future__ import annotations

import math

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from jobs.transform.vectors import (
    artist_feature_stats,
    attach_artists,
    check_features,
    coverage,
    normalize,
    to_metric_space,
    usable_vectors,
)

FEATURES = ["danceability", "energy", "loudness"]
TRACKS = "artist_id string, track_id string"
FEATS = "track_id string, danceability double, energy double, loudness double"
STATS = "artist_id string, tracks long, usable_tracks long, danceability double, energy double, loudness double"


def test_means_over_distinct_tracks_with_complete_features(spark):
    nan = float("nan")
    top_tracks = spark.createDataFrame(
        [
            ("a", "t1"),
            ("a", "t2"),
            ("a", "t2"),  # t2 listed twice for a: counts once
            ("a", "t3"),  # t3 has a NaN feature: not usable
            ("b", "t2"),  # t2 credited to a and b
            ("b", "t4"),  # t4 has no feature row at all
            ("c", "t5"),  # c's only track has a null feature
            ("d", "t6"),  # t6 has two feature rows
        ],
        TRACKS,
    )
    audio_features = spark.createDataFrame(
        [
            ("t1", 0.2, 0.4, -10.0),
            ("t2", 0.4, 0.8, -4.0),
            ("t3", nan, 0.1, -3.0),
            ("t5", 0.5, None, -6.0),
            ("t6", 0.9, 0.1, -2.0),
            ("t6", 0.7, 0.3, -8.0),
            ("t7", 1.0, 1.0, 0.0),  # features of a track nobody lists
        ],
        FEATS,
    )
    stats = top_tracks.transform(artist_feature_stats, audio_features, FEATURES)
    expected = spark.createDataFrame(
        [
            ("a", 3, 2, 0.3, 0.6, -7.0),
            ("b", 2, 1, 0.4, 0.8, -4.0),
            ("c", 1, 0, None, None, None),
            ("d", 1, 1, 0.7, 0.1, -8.0),  # the smallest value of each feature
        ],
        STATS,
    )
    assert_approx_df_equality(stats, expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_infinite_feature_makes_a_track_unusable(spark):
    top_tracks = spark.createDataFrame([("a", "t1"), ("a", "t2")], TRACKS)
    audio_features = spark.createDataFrame([("t1", 0.2, 0.4, float("-inf")), ("t2", 0.6, 0.2, -5.0)], FEATS)
    row = top_tracks.transform(artist_feature_stats, audio_features, FEATURES).first()
    assert (row.tracks, row.usable_tracks, row.loudness) == (2, 1, -5.0)


def test_means_are_independent_of_row_order_and_partitioning(spark):
    rows = [("a", f"t{i}") for i in range(50)]
    feats = [(f"t{i}", 0.1 + i * 1e-3, 1.0 / (i + 3), -60.0 + i * 0.937) for i in range(50)]
    one = (
        spark.createDataFrame(rows, TRACKS)
        .coalesce(1)
        .transform(artist_feature_stats, spark.createDataFrame(feats, FEATS).coalesce(1), FEATURES)
        .first()
    )
    many = (
        spark.createDataFrame(rows[::-1], TRACKS)
        .repartition(7)
        .transform(artist_feature_stats, spark.createDataFrame(feats[::-1], FEATS).repartition(5), FEATURES)
        .first()
    )
    assert one == many  # bit for bit


def test_coverage_counts_why_artists_have_no_vector(spark):
    stats = spark.createDataFrame(
        [("a", 3, 2, 0.1, 0.1, 0.1), ("c", 1, 0, None, None, None), ("ghost", 2, 2, 0.3, 0.3, 0.3)], STATS
    )
    artists = spark.createDataFrame([("a",), ("b",), ("c",), ("a",)], "artist_id string")
    status = stats.transform(attach_artists, artists)
    assert status.transform(coverage).first().asDict() == {
        "with_vector": 1,
        "no_top_tracks": 1,
        "no_features": 1,
        "unknown_artists": 1,
    }
    vectors = status.transform(usable_vectors, FEATURES)
    assert [r.artist_id for r in vectors.collect()] == ["a"]
    assert vectors.columns == ["artist_id", *FEATURES]


def test_minmax_scales_to_unit_range_and_constant_feature_to_zero(spark):
    vectors = spark.createDataFrame(
        [("a", 0.2, 5.0, -10.0), ("b", 0.6, 5.0, -2.0), ("c", 0.4, 5.0, -6.0)],
        "artist_id string, danceability double, energy double, loudness double",
    )
    expected = spark.createDataFrame([("a", 0.0, 0.0, 0.0), ("b", 1.0, 0.0, 1.0), ("c", 0.5, 0.0, 0.5)], vectors.schema)
    result = vectors.transform(normalize, FEATURES, "minmax")
    assert_approx_df_equality(result, expected, 1e-12, ignore_row_order=True, ignore_nullable=True)


def test_zscore_centres_and_scales_and_constant_feature_to_zero(spark):
    vectors = spark.createDataFrame(
        [("a", 1.0, 5.0, -10.0), ("b", 3.0, 5.0, -2.0)],
        "artist_id string, danceability double, energy double, loudness double",
    )
    expected = spark.createDataFrame([("a", -1.0, 0.0, -1.0), ("b", 1.0, 0.0, 1.0)], vectors.schema)
    result = vectors.transform(normalize, FEATURES, "zscore")
    assert_approx_df_equality(result, expected, 1e-12, ignore_row_order=True, ignore_nullable=True)


def test_single_artist_normalizes_to_zero(spark):
    vectors = spark.createDataFrame(
        [("a", 0.3, 0.7, -4.0)], "artist_id string, danceability double, energy double, loudness double"
    )
    for method in ("minmax", "zscore"):
        row = vectors.transform(normalize, FEATURES, method).first()
        assert (row.danceability, row.energy, row.loudness) == (0.0, 0.0, 0.0)


def test_cosine_space_has_unit_vectors_and_keeps_zero_vectors(spark):
    vectors = spark.createDataFrame(
        [("a", 3.0, 4.0, 0.0), ("z", 0.0, 0.0, 0.0)],
        "artist_id string, danceability double, energy double, loudness double",
    )
    expected = spark.createDataFrame([("a", 0.6, 0.8, 0.0), ("z", 0.0, 0.0, 0.0)], vectors.schema)
    assert_approx_df_equality(
        vectors.transform(to_metric_space, FEATURES, "cosine"),
        expected,
        1e-12,
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert_df_equality(vectors.transform(to_metric_space, FEATURES, "euclidean"), vectors)
    norms = (
        vectors.transform(to_metric_space, FEATURES, "cosine")
        .select(F.sqrt(sum(F.col(f) * F.col(f) for f in FEATURES)).alias("norm"))
        .collect()
    )
    assert math.isclose(norms[0].norm, 1.0) and norms[1].norm == 0.0


@pytest.mark.parametrize(
    "bad, message", [([], "empty"), (["tempo", "bpm"], "unknown"), (["energy", "energy"], "repeats")]
)
def test_feature_list_is_checked(bad, message):
    with pytest.raises(ValueError, match=message):
        check_features(bad)


def test_unknown_normalization_and_metric_are_refused(spark):
    vectors = spark.createDataFrame(
        [("a", 0.1, 0.2, 0.3)], "artist_id string, danceability double, energy double, loudness double"
    )
    with pytest.raises(ValueError, match="normalization"):
        normalize(vectors, FEATURES, "l2")
    with pytest.raises(ValueError, match="metric"):
        to_metric_space(vectors, FEATURES, "manhattan")
