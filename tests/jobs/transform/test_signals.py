"""Signals per artist, imputation, rank normalization, weights and the popularity proxy, on tiny frames."""

from __future__ import annotations

import datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobs.common import schemas
from jobs.transform.signals import (
    artist_signals,
    check_signals,
    check_weights,
    impute,
    popularity_proxy,
    signal_vectors,
    usable_signals,
)
from jobs.transform.vectors import normalize, quantiles, weigh


def top(artist, track, popularity=None, duration=200000, released=None):
    return (artist, track, 1, "song", "album", None, popularity, duration, None, "test", released)


def features(track, energy, tempo=120.0):
    return (track, 0.5, energy, 5, -7.0, 1, 0.1, 0.2, 0.0, 0.1, 0.5, tempo, 200000, 4, "test")


@pytest.fixture
def snapshot(spark):
    tops = spark.createDataFrame(
        [
            top("a", "t1", 50, 100000, datetime.date(2001, 5, 1)),
            top("a", "t2", 70, 300000, datetime.date(2003, 1, 1)),
            top("b", "t3", None, 200000, None),
            top("c", "t4", 10, 100000, datetime.date(2020, 1, 1)),
            top("c", "t5", 30, 100000, None),
            top("d", "t6"),  # no features: no vector
        ],
        schemas.TOP_TRACKS,
    )
    audio = spark.createDataFrame(
        [
            features("t1", 0.2, 100.0),
            features("t2", 0.6, 140.0),
            features("t3", 0.4),
            features("t4", 0.9),
            features("t5", 0.9),
        ],
        schemas.AUDIO_FEATURES,
    )
    artists = spark.createDataFrame([("a", 60), ("b", None), ("c", None), ("d", 5)], "artist_id string, popularity int")
    return tops, audio, artists


def test_signals_are_means_spreads_and_metadata_with_nulls_where_data_lacks(spark, snapshot):
    signals = [
        "energy",
        "energy_sd",
        "tempo_sd",
        "track_popularity",
        "artist_popularity",
        "track_duration",
        "track_count",
        "release_year",
    ]
    status = artist_signals(*snapshot, signals)
    rows = {r.artist_id: r for r in usable_signals(status, signals).collect()}
    assert set(rows) == {"a", "b", "c"}
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert a.energy == pytest.approx(0.4, abs=1e-9) and a.energy_sd == pytest.approx(0.2, abs=1e-9)
    assert a.tempo_sd == pytest.approx(20.0, abs=1e-9)
    assert (a.track_popularity, a.artist_popularity, a.track_duration, a.track_count, a.release_year) == (
        60.0,
        60.0,
        200000.0,
        2.0,
        2002.0,
    )
    assert b.energy_sd is None and b.track_popularity is None and b.release_year is None  # one track, no data
    assert c.energy_sd == 0.0 and c.release_year == 2020.0 and c.artist_popularity is None


def test_imputation_fills_the_mean_of_the_others_and_counts_per_signal(spark, snapshot):
    signals = ["energy", "energy_sd", "track_popularity", "artist_popularity"]
    vectors, counts = impute(usable_signals(artist_signals(*snapshot, signals), signals), signals)
    assert counts == {"energy_sd": 1, "track_popularity": 1, "artist_popularity": 2}
    rows = {r.artist_id: r for r in vectors.collect()}
    assert rows["b"].energy_sd == pytest.approx(0.1, abs=1e-9)  # mean of a (0.2) and c (0.0)
    assert rows["b"].track_popularity == pytest.approx(40.0) and rows["c"].artist_popularity == 60.0


def test_split_shared_tracks_weigh_a_track_by_its_credits(spark):
    tops = spark.createDataFrame(
        [top("a", "solo"), top("a", "duet"), top("b", "duet"), top("b", "x")], schemas.TOP_TRACKS
    )
    audio = spark.createDataFrame(
        [features("solo", 0.0), features("duet", 0.9), features("x", 0.3)], schemas.AUDIO_FEATURES
    )
    artists = spark.createDataFrame([("a", 1), ("b", 1)], "artist_id string, popularity int")
    full = {r.artist_id: r.energy for r in artist_signals(tops, audio, artists, ["energy"]).collect()}
    split = {r.artist_id: r.energy for r in artist_signals(tops, audio, artists, ["energy"], "split").collect()}
    assert full["a"] == pytest.approx(0.45) and split["a"] == pytest.approx(0.3)  # (0 + 0.9/2) / 1.5
    assert split["b"] == pytest.approx(0.5)  # (0.45 + 0.3) / 1.5


def test_rank_normalization_gives_quantiles_with_mid_ranks_for_ties(spark):
    frame = spark.createDataFrame(
        [("a", 5.0), ("b", 1.0), ("c", 5.0), ("d", 9.0), ("e", -2.0)], "artist_id string, x double"
    )
    expected = spark.createDataFrame(
        [("a", 0.625), ("b", 0.25), ("c", 0.625), ("d", 1.0), ("e", 0.0)], "artist_id string, x double"
    )
    assert_df_equality(normalize(frame, ["x"], "rank"), expected, ignore_row_order=True, ignore_nullable=True)
    single = spark.createDataFrame([("a", 3.0)], "artist_id string, x double")
    assert quantiles(single, "x").collect()[0].x == 0.0


def test_weights_are_folded_into_the_vectors(spark):
    frame = spark.createDataFrame([("a", 1.0, 2.0)], "artist_id string, x double, y double")
    assert weigh(frame, ["x", "y"], {"y": 3.0}).collect()[0] == ("a", 1.0, 6.0)
    assert weigh(frame, ["x", "y"], {}) is frame
    assert check_weights({"y": 2, "x": 0}, ["x", "y"]) == (("x", 0.0), ("y", 2.0))
    for bad, message in [({"z": 1.0}, "not among the features"), ({"x": -1}, ">= 0"), ({"x": "heavy"}, "not a number")]:
        with pytest.raises(ValueError, match=message):
            check_weights(bad, ["x", "y"])
    with pytest.raises(ValueError, match="unknown audio feature"):
        check_signals(["energy", "loudness_spread"])


def test_signal_vectors_chain_imputation_normalization_weights_and_metric(spark, snapshot):
    signals = ["energy", "track_popularity"]
    vectors, imputed = signal_vectors(
        artist_signals(*snapshot, signals), signals, "minmax", "euclidean", (("track_popularity", 2.0),)
    )
    rows = {r.artist_id: (round(r.energy, 6), round(r.track_popularity, 6)) for r in vectors.collect()}
    assert imputed == {"track_popularity": 1}
    assert rows == {"a": (0.0, 2.0), "b": (0.0, 1.0), "c": (1.0, 0.0)}  # b's popularity imputed to 40 = mid


ALL_KINDS = [
    "energy",
    "tempo",
    "energy_sd",
    "tempo_sd",
    "track_popularity",
    "artist_popularity",
    "track_duration",
    "track_count",
    "release_year",
]


def test_vectors_made_on_the_driver_equal_spark_s_to_the_last_bit(spark, snapshot):
    """jobs.transform.artist_vectors (what the jobs use) against signal_vectors (the Spark reference)."""
    from jobs.transform.artist_vectors import artist_vectors

    status = artist_signals(*snapshot, ALL_KINDS).cache()
    weights = (("energy", 2.0), ("track_count", 0.5))
    for normalization, metric in (("rank", "euclidean"), ("minmax", "cosine"), ("zscore", "cosine")):  # each kind
        spark_vectors, spark_imputed = signal_vectors(status, ALL_KINDS, normalization, metric, weights)
        expected = {r.artist_id: [float(r[s]).hex() for s in ALL_KINDS] for r in spark_vectors.collect()}
        driver = artist_vectors(status, ALL_KINDS, normalization, metric, weights)
        got = {driver.ids[i].as_py(): [float(v).hex() for v in driver.points[i]] for i in range(len(driver.ids))}
        assert got == expected, (normalization, metric)
        assert driver.imputed == spark_imputed
    assert driver.coverage == {"with_vector": 3, "no_top_tracks": 0, "no_features": 1, "unknown_artists": 0}
    status.unpersist()


def with_audio_on_rows(spark, tops, audio):
    """``tops`` as the sources write them now: each row with its track's features (nulls when none)."""
    by_track = {row[0]: tuple(row[1:-1]) for row in audio.collect()}
    empty = (None,) * len(schemas.TRACK_AUDIO.fields)
    return spark.createDataFrame(
        [(*row, by_track.get(row.track_id, empty)) for row in tops.collect()], schemas.TOP_TRACKS_WITH_AUDIO
    )


def test_features_on_the_track_rows_give_what_the_two_tables_give(spark, snapshot):
    from jobs.transform.signals import features_on_tracks

    tops, audio, artists = snapshot
    on_rows = with_audio_on_rows(spark, tops, audio)
    assert features_on_tracks(on_rows) and not features_on_tracks(tops)
    assert not features_on_tracks(on_rows.withColumn("audio_features", F.lit(None).cast(schemas.TRACK_AUDIO)))
    for shared in ("full", "split"):
        joined = artist_signals(tops, audio, artists, ALL_KINDS, shared)
        assert_df_equality(
            artist_signals(on_rows, None, artists, ALL_KINDS, shared),
            joined,
            ignore_row_order=True,
            ignore_column_order=True,
        )


def test_popularity_comes_from_the_artist_then_its_tracks_then_a_proxy(spark):
    artists = spark.createDataFrame(
        [("a", 77), ("b", None), ("c", None), ("d", None)], "artist_id string, popularity int"
    )
    tops = spark.createDataFrame(
        [
            top("a", "t1", 10),
            top("b", "t2", 41),
            top("b", "t3", 50),
            top("c", "t4", None, released=datetime.date(2001, 1, 1)),
            top("c", "t5", None, released=datetime.date(2020, 1, 1)),
            top("d", "t6", None, released=datetime.date(1999, 1, 1)),
        ],
        schemas.TOP_TRACKS,
    )
    filled, how = popularity_proxy(artists, tops)
    assert how == {"artists": 1, "tracks": 1, "proxy": 2}
    assert {r.artist_id: r.popularity for r in filled.collect()} == {"a": 77, "b": 46, "c": 100, "d": 0}


def test_the_config_files_hold_the_default_preset():
    from jobs.common.config import load_config, section
    from jobs.transform.signals import PRESETS

    for path in ("conf/local.toml", "conf/emr.toml"):
        sim = section(
            load_config(path, env={"LAKE_BUCKET": "b", "MART_HOST": "h", "MART_USER": "u", "MART_SECRET": "s"}),
            "similarity",
        )
        assert {key: sim[key] for key in PRESETS["default"]} == PRESETS["default"], path


def test_every_preset_names_known_signals_a_normalization_and_a_metric():
    from jobs.transform.signals import PRESETS, SHARED_TRACKS, check_signals

    assert {"seed", "default", "fast"} <= set(PRESETS)
    for name, preset in PRESETS.items():
        assert check_signals(preset["features"]) == tuple(preset["features"]), name
        assert len(set(preset["features"])) == len(preset["features"]), name
        assert preset["normalization"] in ("minmax", "zscore", "rank"), name
        assert preset["metric"] in ("euclidean", "cosine"), name
        assert preset["shared_tracks"] in SHARED_TRACKS, name
