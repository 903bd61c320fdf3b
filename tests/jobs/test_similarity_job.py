"""The similarity job end to end: entry point, lake in, related_artists out, clear failures."""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobs import ingest, similarity
from jobs.common.lake import Lake
from jobs.settings import DEFAULT_K, SimilaritySettings
from jobs.transform.naive import naive_neighbours
from jobs.transform.signals import PRESETS, artist_signals, signal_vectors
from mart import serving

DT = "2026-03-01"


def write_synthetic(lake_dir, artists=400, dt=DT):
    assert (
        ingest.main(
            [
                "--set",
                "synthetic.contexts=0",
                "--lake",
                lake_dir,
                "--dt",
                dt,
                "--source",
                "synthetic",
                "--artists",
                str(artists),
                "--set",
                "synthetic.missing_features=0.05",
            ]
        )
        == 0
    )


def reference(spark, lake_dir, metric="euclidean", normalization=None, k=DEFAULT_K):
    """The naive search over the default setting's vectors (conf/local.toml), with metric and normalization as given."""
    lake = Lake(spark, lake_dir)
    default = PRESETS["default"]
    features = default["features"]
    status = artist_signals(
        lake.read("top_tracks", DT), lake.read("audio_features", DT), lake.read("artists", DT), features
    )
    vectors, _ = signal_vectors(status, features, normalization or default["normalization"], metric, ())
    return vectors.transform(naive_neighbours, features, k, metric)


@pytest.fixture(autouse=True)
def in_a_scratch_folder(tmp_path, monkeypatch):
    """The job publishes to the default mart, data/mart.db relative to where it runs: here, a scratch folder."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def synthetic_lake(spark, tmp_path_factory):
    lake_dir = str(tmp_path_factory.mktemp("synthetic") / "lake")
    write_synthetic(lake_dir)
    return lake_dir


def related(spark, lake_dir, dt=DT):
    """The related artists written for ``dt``, without their reason (every one "sound" here: these lakes have
    no listening data; tests/jobs/test_listening_job.py covers the blend)."""
    rows = Lake(spark, lake_dir).read("related_artists", dt)
    assert rows.where("reason != 'sound'").count() == 0
    return rows.drop("dt", "reason")


@dataclass(frozen=True)
class JobRun:
    """One run of the job: its exit status, what it printed, the rows it wrote, the mart it published to."""

    status: int
    out: str
    related: object  # a DataFrame of the rows as the run wrote them (later tests overwrite the lake's)
    mart: Path


@pytest.fixture(scope="module")
def default_run(spark, synthetic_lake, tmp_path_factory):
    """The job with its defaults (latest snapshot, default mart) and ``--show 4``, run once in a scratch
    folder for the tests that check different things about that one run."""
    folder = tmp_path_factory.mktemp("default_run")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    try:
        with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
            patch.chdir(folder)
            status = similarity.main(["--lake", synthetic_lake, "--show", "4"])  # latest snapshot by default
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    rows = related(spark, synthetic_lake)
    return JobRun(
        status, out.getvalue(), spark.createDataFrame(rows.collect(), rows.schema), folder / "data" / "mart.db"
    )


def test_job_writes_the_same_rows_as_the_naive_reference(spark, synthetic_lake, default_run):
    assert default_run.status == 0
    result = default_run.related
    assert_df_equality(result, reference(spark, synthetic_lake), ignore_row_order=True, ignore_nullable=True)
    with_vector = result.select("artist_id").distinct().count()
    assert result.count() == DEFAULT_K * with_vector and 380 <= with_vector <= 400
    assert result.where("artist_id = related_id").count() == 0


def test_rerun_replaces_the_snapshot_without_duplicates(spark, synthetic_lake, default_run):
    assert default_run.status == 0
    first = default_run.related.collect()
    assert similarity.main(["--lake", synthetic_lake, "--dt", DT]) == 0
    second = related(spark, synthetic_lake)
    assert second.count() == len(first)
    assert sorted(first) == sorted(second.collect())


@pytest.mark.parametrize("metric, normalization", [("cosine", "zscore"), ("cosine", "minmax")])
def test_options_reach_the_search(spark, synthetic_lake, tmp_path, metric, normalization):
    assert (
        similarity.main(
            ["--lake", synthetic_lake, "--dt", DT, "--metric", metric, "--normalization", normalization, "--k", "4"]
        )
        == 0
    )
    assert_df_equality(
        related(spark, synthetic_lake),
        reference(spark, synthetic_lake, metric, normalization, 4),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_feature_list_from_the_command_line(spark, synthetic_lake):
    assert similarity.main(["--lake", synthetic_lake, "--dt", DT, "--features", "tempo,valence", "--k", "1"]) == 0
    assert related(spark, synthetic_lake).where("rank > 1").count() == 0


def test_missing_lake_fails_with_a_clear_message(spark, tmp_path, capsys):
    assert similarity.main(["--lake", str(tmp_path / "nowhere")]) == 2
    assert "has no snapshot" in capsys.readouterr().err


def test_missing_dt_fails_and_lists_what_exists(spark, synthetic_lake, capsys):
    assert similarity.main(["--lake", synthetic_lake, "--dt", "2020-01-01"]) == 2
    assert f"no rows for dt=2020-01-01 (latest snapshots: {DT})" in capsys.readouterr().err


def test_snapshot_without_any_usable_features_fails(spark, tmp_path, capsys):
    lake_dir = str(tmp_path / "lake")
    assert (
        ingest.main(
            [
                "--set",
                "synthetic.contexts=0",
                "--lake",
                lake_dir,
                "--dt",
                DT,
                "--artists",
                "30",
                "--set",
                "synthetic.missing_features=0.0",
            ]
        )
        == 0
    )
    lake = Lake(spark, lake_dir)
    features = lake.read("audio_features", DT).drop("dt")
    broken = features.withColumn("energy", F.lit(None).cast("double"))
    lake.write(broken, "audio_features", DT)
    tops = lake.read("top_tracks", DT).drop("dt")  # where the job reads them from (features on the track rows)
    lake.write(
        tops.withColumn("audio_features", F.col("audio_features").withField("energy", F.lit(None).cast("double"))),
        "top_tracks",
        DT,
    )
    assert similarity.main(["--lake", lake_dir, "--dt", DT]) == 2
    err = capsys.readouterr().err
    assert "30 without a track with complete audio features" in err
    assert "nothing to compare" in err


def test_tiny_snapshot_gets_fewer_than_k_neighbours(spark, tmp_path):
    lake_dir = str(tmp_path / "lake")
    assert (
        ingest.main(
            [
                "--set",
                "synthetic.contexts=0",
                "--lake",
                lake_dir,
                "--dt",
                DT,
                "--artists",
                "3",
                "--set",
                "synthetic.missing_features=0.0",
            ]
        )
        == 0
    )
    assert similarity.main(["--lake", lake_dir, "--dt", DT]) == 0
    ranks = sorted((r.artist_id, r.rank) for r in related(spark, lake_dir).collect())
    assert [rank for _, rank in ranks] == [1, 2, 1, 2, 1, 2]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "similarity.k=0"], "k must be at least 1"),
        (["--features", "energy,bpm"], "unknown audio feature"),
        (["--set", "similarity.normalization=l2"], "unknown normalization"),
        (["--set", "similarity.dt=yesterday"], "not of the form YYYY-MM-DD"),
    ],
)
def test_bad_settings_exit_2_with_a_reason(spark, synthetic_lake, capsys, argv, message):
    assert similarity.main(["--lake", synthetic_lake, *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message", [(["--metric", "manhattan"], "invalid choice"), (["--dt", "2026-13-01"], "not a real date")]
)
def test_bad_flags_are_rejected_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as done:
        similarity.main(argv)
    assert done.value.code == 2
    assert message in capsys.readouterr().err


def test_help_explains_the_options(capsys):
    with pytest.raises(SystemExit) as done:
        similarity.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for word in ("--features", "--normalization", "--metric", "--k", "--dt", "--config", "--set", "zscore", "cosine"):
        assert word in out


def test_show_prints_popular_artists_with_their_related_names(spark, synthetic_lake, default_run):
    assert default_run.status == 0
    lines = default_run.out.strip().splitlines()
    assert len(lines) == 4
    names = {r.name for r in Lake(spark, synthetic_lake).read("artists", DT).collect()}
    for line in lines:
        artist, _, related_part = line.partition("  ->  ")
        assert artist in names
        related_names = [part.rsplit(" (", 1)[0] for part in related_part.split(", ")]
        assert len(related_names) == DEFAULT_K and set(related_names) <= names


def test_single_artist_with_features_writes_no_related_rows(spark, tmp_path):
    lake_dir = str(tmp_path / "lake")
    assert (
        ingest.main(
            [
                "--set",
                "synthetic.contexts=0",
                "--lake",
                lake_dir,
                "--dt",
                DT,
                "--artists",
                "1",
                "--set",
                "synthetic.missing_features=0.0",
            ]
        )
        == 0
    )
    result = similarity.run(
        spark, SimilaritySettings.from_config({"lake": {"path": lake_dir}, "similarity": {"dt": DT}})
    )
    assert (result.with_vector, result.related_rows) == (1, 0)


def test_the_job_ends_by_publishing_the_snapshot_to_the_mart(spark, synthetic_lake, mysql_mart, monkeypatch, tmp_path):
    monkeypatch.setenv("MART_TEST_PASSWORD", mysql_mart.password)
    assert (
        similarity.main(
            [
                "--lake",
                synthetic_lake,
                "--dt",
                DT,
                "--mart",
                mysql_mart.url,
                "--set",
                f"mart.user={mysql_mart.user}",
                "--set",
                "mart.password_env=MART_TEST_PASSWORD",
            ]
        )
        == 0
    )
    lake_rows = sorted(tuple(r) for r in related(spark, synthetic_lake).collect())
    conn = mysql_mart.reader()
    try:
        mart_rows = serving.fetch_all(
            conn, "SELECT artist_id, `rank`, related_id, distance FROM related_artists ORDER BY artist_id, `rank`"
        )
        params = serving.fetch_all(conn, "SELECT dt, parameters FROM publish_log")
    finally:
        conn.close()
    assert [tuple(r) for r in mart_rows] == lake_rows
    assert params[0][0] == DT and '"metric": "euclidean"' in params[0][1]
    assert not (tmp_path / "data" / "mart.db").exists()  # --mart replaced the default


def test_the_default_mart_is_an_sqlite_file_and_no_publish_skips_it(spark, synthetic_lake, tmp_path, default_run):
    assert similarity.main(["--lake", synthetic_lake, "--dt", DT, "--no-publish"]) == 0
    assert not (tmp_path / "data" / "mart.db").exists()
    assert default_run.status == 0  # the same settings without --no-publish: it published to data/mart.db
    conn = serving.connect(f"jdbc:sqlite:{default_run.mart}")
    try:
        assert (
            serving.fetch_all(conn, "SELECT COUNT(*) FROM related_artists")[0][0]
            == related(spark, synthetic_lake).count()
        )
    finally:
        conn.close()


def test_a_wrong_mart_password_fails_before_any_spark_work(spark, synthetic_lake, mysql_mart, monkeypatch, capsys):
    monkeypatch.setenv("MART_TEST_PASSWORD", "wrong")
    argv = [
        "--lake",
        synthetic_lake,
        "--dt",
        "2026-03-02",
        "--mart",
        mysql_mart.url,
        "--set",
        f"mart.user={mysql_mart.user}",
        "--set",
        "mart.password_env=MART_TEST_PASSWORD",
    ]
    assert similarity.main(argv) == 2
    err = capsys.readouterr().err
    assert "Access denied" in err and "$MART_TEST_PASSWORD" in err
    assert "similarity for dt" not in err  # it stopped before reading the lake


@pytest.fixture(scope="module")
def lake_300(spark, tmp_path_factory):
    """The lake of the golden files in tests/fixtures/ (see its README): 300 synthetic artists, seed 7, 5% of
    tracks without features, generated again."""
    lake_dir = str(tmp_path_factory.mktemp("lake300") / "lake")
    assert (
        ingest.main(
            [
                "--set",
                "synthetic.contexts=0",
                "--lake",
                lake_dir,
                "--dt",
                DT,
                "--source",
                "synthetic",
                "--artists",
                "300",
                "--set",
                "synthetic.missing_features=0.05",
            ]
        )
        == 0
    )
    return lake_dir


def golden_rows(name: str) -> list[dict]:
    import csv

    from tests.support.paths import FIXTURES

    with (FIXTURES / name).open() as rows:
        return list(csv.DictReader(rows))


def test_preset_seed_reproduces_the_first_settings_related_artists_row_for_row(spark, lake_300):
    """tests/fixtures/seed_related_synthetic300.csv: what the job wrote before signals, presets and weights
    existed (300 synthetic artists, seed 7, 5% of tracks without features); the lake is generated again."""
    lake_dir = lake_300
    assert similarity.main(["--lake", lake_dir, "--dt", DT, "--no-publish", "--preset", "seed"]) == 0
    expected = sorted(
        (r["artist_id"], int(r["rank"]), r["related_id"], float(r["distance"]))
        for r in golden_rows("seed_related_synthetic300.csv")
    )
    got = sorted((r.artist_id, r.rank, r.related_id, r.distance) for r in related(spark, lake_dir).collect())
    assert len(got) == 900 and got == expected  # distances equal to the last bit


def test_the_default_writes_the_related_artists_it_wrote_when_vectors_were_made_in_spark(spark, lake_300):
    """tests/fixtures/default_related_synthetic300.csv: the default's rows before the vectors were normalized
    on the driver and the features read from the track rows (distances as hexadecimal floats)."""
    assert similarity.main(["--lake", lake_300, "--dt", DT, "--no-publish"]) == 0
    expected = sorted(
        (r["artist_id"], int(r["rank"]), r["related_id"], r["distance"])
        for r in golden_rows("default_related_synthetic300.csv")
    )
    got = sorted(
        (r.artist_id, r.rank, r.related_id, float(r.distance).hex()) for r in related(spark, lake_300).collect()
    )
    assert len(got) == 900 and got == expected  # distances equal to the last bit


# The settings of tests/fixtures/vectors_synthetic300.csv: every normalization and metric, weights, spreads
# that need imputation, metadata signals and split credits.
GOLDEN_SETTINGS = {
    "default": PRESETS["default"],
    "fast": PRESETS["fast"],
    "seed": PRESETS["seed"],
    "spreads-cosine-rank": {
        "features": ["energy", "energy_sd", "tempo_sd", "artist_popularity", "track_count", "release_year"],
        "normalization": "rank",
        "metric": "cosine",
        "weights": {"energy": 2.0, "track_count": 0.5},
        "shared_tracks": "split",
    },
    "zscore-cosine-split": {
        "features": [*PRESETS["seed"]["features"], "valence_sd"],
        "normalization": "zscore",
        "metric": "cosine",
        "weights": {"valence_sd": 3.0},
        "shared_tracks": "split",
    },
    "minmax-metadata": {
        "features": ["track_popularity", "track_duration", "track_count", "release_year", "liveness", "key"],
        "normalization": "minmax",
        "metric": "euclidean",
        "weights": {},
        "shared_tracks": "full",
    },
}


def test_vectors_equal_the_ones_made_in_spark_from_the_two_tables_to_the_last_bit(spark, lake_300):
    """tests/fixtures/vectors_synthetic300.csv: each setting's vectors as Spark made them from top_tracks joined
    with audio_features; now made on the driver, from the features on the track rows and from the join."""
    from jobs.transform.artist_vectors import artist_vectors
    from jobs.transform.signals import features_on_tracks

    expected: dict = {}
    for row in golden_rows("vectors_synthetic300.csv"):
        expected.setdefault(row["setting"], {})[row["artist_id"]] = row["values"]
    lake = Lake(spark, lake_300)
    tables = {
        name: frame.cache()
        for name, frame in lake.read_snapshot(DT, ["artists", "top_tracks", "audio_features"]).items()
    }
    assert features_on_tracks(tables["top_tracks"])
    assert set(expected) == set(GOLDEN_SETTINGS)
    for name, setting in GOLDEN_SETTINGS.items():  # the join for the default only: test_signals.py compares both ways
        for audio in (None, tables["audio_features"]) if name == "default" else (None,):
            status = artist_signals(
                tables["top_tracks"], audio, tables["artists"], setting["features"], setting["shared_tracks"]
            )
            vectors = artist_vectors(
                status,
                setting["features"],
                setting["normalization"],
                setting["metric"],
                sorted(setting["weights"].items()),
            )
            got = {
                vectors.ids[i].as_py(): " ".join(float(v).hex() for v in vectors.points[i])
                for i in range(len(vectors.ids))
            }
            assert got == expected[name], (name, "joined" if audio else "on the track rows")


def test_a_source_without_popularity_gets_a_proxy_in_the_mart_and_the_publish_log_says_so(spark, tmp_path, capsys):
    import json

    from tests.support.tracks_csv_data import songs_1_2m

    lake_dir = str(tmp_path / "lake")
    assert (
        ingest.main(["--source", "tracks-csv", "--lake", lake_dir, "--dt", DT, "--tracks", songs_1_2m(tmp_path)]) == 0
    )
    assert similarity.main(["--lake", lake_dir, "--dt", DT, "--features", "energy,tempo,track_popularity"]) == 0
    assert (
        "imputed (missing values replaced by the mean over the artists that have them): track_popularity 2 of 2"
        in capsys.readouterr().err
    )
    conn = serving.connect(f"jdbc:sqlite:{tmp_path / 'data' / 'mart.db'}")
    try:
        popularity = dict(serving.fetch_all(conn, "SELECT artist_id, popularity FROM artists"))
        parameters = json.loads(serving.fetch_all(conn, "SELECT parameters FROM publish_log")[0][0])
    finally:
        conn.close()
    # Artist A: 10 top tracks, latest 2011; B: 1 track, 2003. Neither file nor tracks have popularity.
    assert popularity == {"AAAAAAAAAAAAAAAAAAAAAA": 100, "BBBBBBBBBBBBBBBBBBBBBB": 0}
    assert parameters["popularity"]["proxy"] == 2 and parameters["popularity"]["from_artists"] == 0
    assert parameters["normalization"] == PRESETS["default"]["normalization"]
    assert parameters["features"] == ["energy", "tempo", "track_popularity"]
