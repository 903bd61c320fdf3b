"""The local pipeline (python -m jobs.pipeline): ingest, then similarity with its publish, for one dt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from jobs import pipeline
from jobs.common.lake import Lake
from mart import serving
from tests.support.paths import REPO

DT = "2026-05-04"


def run_pipeline(lake_dir, mart_url, *options):
    return pipeline.main(["--dt", DT, "--lake", lake_dir, "--mart", mart_url, *options])


def pipeline_lines(text: str) -> list[str]:
    """The pipeline's own log messages in the jobs' stderr log."""
    return [line.split(" jobs.pipeline: ", 1)[1] for line in text.splitlines() if " jobs.pipeline: " in line]


# The jobs log to stderr through their own handler (setup_logging), so the tests read the captured stderr.
def test_the_pipeline_ingests_then_publishes_the_related_artists_of_the_dt(spark, lake_dir, sqlite_mart, capsys):
    assert (
        run_pipeline(
            lake_dir, sqlite_mart.url, "--ingest-args", "--source synthetic --artists 90", "--similarity-args", "--k 2"
        )
        == 0
    )
    lake = Lake(spark, lake_dir)
    assert lake.snapshots("top_tracks") == [DT] and lake.snapshots("related_artists") == [DT]
    conn = sqlite_mart.reader()
    try:
        ((artists, related, ranks),) = serving.fetch_all(
            conn, "SELECT COUNT(DISTINCT artist_id), COUNT(*), MAX(rank) FROM related_artists"
        )
        ((dts,),) = serving.fetch_all(conn, "SELECT COUNT(DISTINCT dt) FROM publish_log WHERE dt = ?", (DT,))
    finally:
        conn.close()
    assert artists > 80 and related == 2 * artists and ranks == 2 and dts == 1
    assert pipeline_lines(capsys.readouterr().err) == [
        f"pipeline dt={DT}: step 1 of 2, ingest",
        f"pipeline dt={DT}: step 2 of 2, similarity",
        f"pipeline dt={DT} done: ingest, similarity",
    ]


def test_a_failing_ingest_stops_the_pipeline_before_similarity(spark, lake_dir, sqlite_mart, capsys):
    status = run_pipeline(lake_dir, sqlite_mart.url, "--ingest-args", "--source synthetic --artists 0")
    assert status == 2
    err = capsys.readouterr().err
    assert (
        pipeline_lines(err)[-1]
        == f"pipeline dt={DT} stopped: step ingest failed with exit status 2; not run: similarity"
    )
    assert "synthetic artists must be at least 1" in err
    assert not Lake(spark, lake_dir).exists("related_artists")
    assert not Path(sqlite_mart.url.removeprefix("jdbc:sqlite:")).exists(), "nothing may touch the mart"


def test_a_failing_similarity_is_named_and_leaves_ingest_s_snapshot(spark, lake_dir, sqlite_mart, capsys):
    status = run_pipeline(
        lake_dir,
        sqlite_mart.url,
        "--ingest-args",
        "--source synthetic --artists 40",
        "--similarity-args",
        "--features danceability,loudness,vibes",
    )
    assert status == 2
    err = capsys.readouterr().err
    assert pipeline_lines(err)[-1] == f"pipeline dt={DT} stopped: step similarity failed with exit status 2"
    assert "vibes" in err
    lake = Lake(spark, lake_dir)
    assert lake.snapshots("artists") == [DT] and not lake.exists("related_artists")
    assert not Path(sqlite_mart.url.removeprefix("jdbc:sqlite:")).exists()


def test_bad_arguments_of_a_later_step_stop_the_pipeline_before_the_first(spark, lake_dir, sqlite_mart, capsys):
    status = run_pipeline(
        lake_dir, sqlite_mart.url, "--ingest-args", "--source synthetic --artists 40", "--similarity-args", "--k three"
    )
    assert status == 2
    err = capsys.readouterr().err
    assert "argument --k: invalid int value: 'three'" in err
    assert pipeline_lines(err) == [
        f"pipeline dt={DT}: the arguments of step similarity are not valid (see above); nothing was run"
    ]
    assert not Lake(spark, lake_dir).exists("artists")


def test_the_command_exits_non_zero_and_names_the_failing_step(tmp_path):
    """As a command (no Spark needed: ingest fails on its config file before starting Spark)."""
    done = subprocess.run(
        [sys.executable, "-m", "jobs.pipeline", "--dt", DT, "--config", str(tmp_path / "none.toml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert done.returncode == 2, done.stderr
    assert f"config file not found: {tmp_path / 'none.toml'}" in done.stderr
    assert f"pipeline dt={DT} stopped: step ingest failed with exit status 2; not run: similarity" in done.stderr
