"""jobs/publish_mart.py as an operator runs it: a process that can be killed, exit statuses, messages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs import publish_mart
from jobs.common.lake import Lake
from jobs.publish.mart import Mart, PublishSettings
from jobs.publish.snapshot import publish_snapshot
from mart import serving
from tests import mart_data

REPO = Path(__file__).resolve().parents[1]


def write_lake(spark, root: str, n: int, tag: str, dt: str) -> Lake:
    lake = Lake(spark, root)
    for table, frame in mart_data.lake_tables(spark, n, tag).items():
        lake.write(frame, table, dt)
    return lake


def cli_args(mart, lake_dir: str) -> list[str]:
    return ["--lake", lake_dir, "--mart", mart.url, "--set", f'mart.user="{mart.user}"',
            "--set", "mart.password_env=MART_TEST_PASSWORD", "--set", "spark.master=local[2]",
            "--set", 'spark.conf."spark.driver.memory"=1g']


def staging_tables(mart) -> set[str]:
    conn = mart.reader()
    try:
        if mart.dialect == "sqlite":
            rows = serving.fetch_all(conn, "SELECT name FROM sqlite_master WHERE name LIKE '%staging'")
        else:
            rows = serving.fetch_all(conn, "SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = DATABASE() AND table_name LIKE '%staging'")
        return {name for (name,) in rows}
    finally:
        conn.close()


def snapshot_of_live(mart) -> dict:
    conn = mart.reader()
    try:
        return {table: serving.fetch_all(conn, f"SELECT * FROM {table} ORDER BY 1, 2")
                for table in ("artists", "top_tracks", "related_artists", "publish_log")}
    finally:
        conn.close()


def test_a_publish_killed_during_its_staging_writes_leaves_the_live_set_and_the_next_run_succeeds(
        spark, any_mart, tmp_path):
    n = 30_000
    settings = PublishSettings.from_config(any_mart.config(), any_mart.env())
    with Mart(spark, settings) as mart:
        mart.publish(mart_data.frames(spark, 2_000, "A"), "2026-11-01")
    before = snapshot_of_live(any_mart)
    lake_dir = str(tmp_path / "lake")
    lake = write_lake(spark, lake_dir, n, "B", "2026-11-02")

    env = dict(os.environ, **any_mart.env(), PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "jobs/publish_mart.py", "publish", "--dt", "2026-11-02",
                                *cli_args(any_mart, lake_dir)], cwd=REPO, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    try:
        while "top_tracks__staging" not in staging_tables(any_mart):
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the publish never reached its staging writes"
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)   # the Python driver and its JVM
        process.wait(30)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    assert snapshot_of_live(any_mart) == before   # the live set and the log are untouched

    with Mart(spark, settings) as mart:
        report = publish_snapshot(mart, lake, "2026-11-02")
    assert report.counts["artists"] == n
    assert staging_tables(any_mart) == set()
    conn = any_mart.reader()
    try:
        assert mart_data.answer_problems(serving.find_artist(conn, "Artist 29999"), 29_999, n) == []
        assert serving.find_artist(conn, "Artist 5")[1].artist_id == mart_data.artist_id(10)   # generation B
    finally:
        conn.close()


def test_cli_refusal_and_force_exit_statuses(spark, sqlite_mart, tmp_path, capsys):
    lake_dir = str(tmp_path / "lake")
    write_lake(spark, lake_dir, 100, "A", "2026-11-01")
    write_lake(spark, lake_dir, 10, "B", "2026-11-02")
    args = cli_args(sqlite_mart, lake_dir)
    assert publish_mart.main(["publish", "--dt", "2026-11-01", *args]) == 0
    assert publish_mart.main(["publish", *args]) == 2     # latest dt: 10 artists against 100 live
    assert publish_mart.main(["publish", "--force", *args]) == 0
    assert publish_mart.main(["status", "--show", "2", *args]) == 0
    shown = capsys.readouterr().out
    assert "live     artists 10" in shown and "forced" in shown
    assert "Artist 9 [B song 1 of 9, B song 2 of 9, B song 3 of 9]  ->  Artist 4 (0.050)" in shown


def test_cli_wrong_mart_url_exits_2_with_a_message(capsys):
    assert publish_mart.main(["status", "--mart", "mysql://db/mart"]) == 2
    assert "is not a JDBC URL this job knows" in capsys.readouterr().err


def test_cli_help_names_the_settings(capsys):
    with pytest.raises(SystemExit) as exit_info:
        publish_mart.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for words in ("publish", "rollback", "status", "max_drop", "password_env", "--force"):
        assert words in out
