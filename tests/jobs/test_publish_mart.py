"""jobs/publish_mart.py as an operator runs it: a process that can be killed, exit statuses, messages."""

from __future__ import annotations

import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

import mart.__main__ as mart_cli
from jobs import publish_mart
from jobs.common.lake import Lake
from jobs.publish.checks import PublishRefused
from jobs.publish.mart import Mart
from jobs.publish.settings import PublishSettings
from jobs.publish.snapshot import publish_computed, publish_snapshot
from jobs.settings import DEFAULT_K
from mart import serving
from tests.support import mart_data
from tests.support.mart_locks import holding_publish_lock
from tests.support.paths import REPO
from tests.support.spark_conf import set_args


def write_lake(spark, root: str, n: int, tag: str, dt: str, k: int = 3) -> Lake:
    """Generation ``tag`` of ``n`` artists as lake snapshot ``dt``, keeping ``k`` related rows per artist."""
    lake = Lake(spark, root)
    for table, frame in mart_data.lake_tables(spark, n, tag).items():
        lake.write(frame.where(f"rank <= {k}") if table == "related_artists" else frame, table, dt)
    return lake


def cli_args(mart, lake_dir: str) -> list[str]:
    return [
        "--lake",
        lake_dir,
        "--mart",
        mart.url,
        "--set",
        f'mart.user="{mart.user}"',
        "--set",
        "mart.password_env=MART_TEST_PASSWORD",
        "--set",
        "spark.master=local[2]",
        "--set",
        'spark.conf."spark.driver.memory"=1g',
        *set_args(),
    ]


def staging_tables(mart) -> set[str]:
    return {table for table in mart_data.tables(mart) if table.endswith("staging")}


def snapshot_of_live(mart) -> dict:
    conn = mart.reader()
    try:
        return {
            table: serving.fetch_all(conn, f"SELECT * FROM {table} ORDER BY 1, 2")
            for table in ("artists", "top_tracks", "related_artists", "publish_log")
        }
    finally:
        conn.close()


KILLED_N = 30_000


@pytest.fixture(scope="module")
def lake_of_30000(spark, tmp_path_factory) -> tuple[str, Lake]:
    """Generation B of 30,000 artists as snapshot 2026-11-02, written once for both dialects (read only)."""
    lake_dir = str(tmp_path_factory.mktemp("lake_of_30000") / "lake")
    return lake_dir, write_lake(spark, lake_dir, KILLED_N, "B", "2026-11-02")


def test_a_publish_killed_during_its_staging_writes_leaves_the_live_set_and_the_next_run_succeeds(
    spark, any_mart, lake_of_30000
):
    n = KILLED_N
    settings = PublishSettings.from_config(any_mart.config(), any_mart.env())
    with Mart(spark, settings) as mart:
        mart.publish(mart_data.frames(spark, 2_000, "A"), "2026-11-01")
    before = snapshot_of_live(any_mart)
    lake_dir, lake = lake_of_30000

    env = dict(os.environ, **any_mart.env(), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "jobs/publish_mart.py", "publish", "--dt", "2026-11-02", *cli_args(any_mart, lake_dir)],
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180
    try:
        while "top_tracks__staging" not in staging_tables(any_mart):
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the publish never reached its staging writes"
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the Python driver and its JVM
        process.wait(30)
        killed_log = process.stderr.read().decode(errors="replace")
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    # Killed during its staging writes, not later: no staging table was checked (a late kill would pass vacuously).
    assert "staging writes:" in killed_log and "staging checks passed" not in killed_log, killed_log[-3000:]

    assert snapshot_of_live(any_mart) == before  # the live set and the log are untouched

    with Mart(spark, settings) as mart:
        report = publish_snapshot(mart, lake, "2026-11-02")
    assert report.counts["artists"] == n
    assert staging_tables(any_mart) == set()
    conn = any_mart.reader()
    try:
        assert mart_data.answer_problems(serving.find_artist(conn, "Artist 29999"), 29_999, n) == []
        assert serving.find_artist(conn, "Artist 5")[1].artist_id == mart_data.artist_id(10)  # generation B
    finally:
        conn.close()


def test_cli_refusal_and_force_exit_statuses(spark, sqlite_mart, tmp_path, capsys):
    lake_dir = str(tmp_path / "lake")
    write_lake(spark, lake_dir, 100, "A", "2026-11-01")
    write_lake(spark, lake_dir, 10, "B", "2026-11-02")
    args = cli_args(sqlite_mart, lake_dir)
    assert publish_mart.main(["publish", "--dt", "2026-11-01", *args]) == 0
    assert publish_mart.main(["publish", *args]) == 2  # latest dt: 10 artists against 100 live
    refusal = capsys.readouterr().err
    assert "publish refused" in refusal and "without recomputing" not in refusal
    # From the similarity job (related_artists just computed), the refusal names the cheaper re-publish.
    lake = Lake(spark, lake_dir)
    with Mart(spark, PublishSettings.from_config(sqlite_mart.config(), {})) as mart:
        with pytest.raises(
            PublishRefused,
            match=r"python jobs/publish_mart.py publish --dt 2026-11-02 "
            r"--set similarity.k=3 --force.*without recomputing",
        ):
            publish_computed(mart, lake, "2026-11-02", artists_with_vector=10, k=3)
    assert publish_mart.main(["publish", "--force", *args]) == 0
    assert publish_mart.main(["status", "--show", "2", *args]) == 0
    shown = capsys.readouterr().out
    assert "live     artists 10" in shown and "forced" in shown
    assert "Artist 9 [B song 1 of 9, B song 2 of 9, B song 3 of 9]  ->  Artist 4 (0.050)" in shown


def test_the_refusal_after_recomputing_names_a_command_that_checks_the_k_the_job_used(
    spark, sqlite_mart, tmp_path, capsys
):
    """The similarity job ran with k=2, the config says 3 (default): the hinted command must pass its checks."""
    lake_dir = str(tmp_path / "lake")
    write_lake(spark, lake_dir, 100, "A", "2026-11-01", k=2)
    lake = write_lake(spark, lake_dir, 10, "B", "2026-11-02", k=2)
    args = cli_args(sqlite_mart, lake_dir)
    assert publish_mart.main(["publish", "--dt", "2026-11-01", "--set", "similarity.k=2", *args]) == 0
    with Mart(spark, PublishSettings.from_config(sqlite_mart.config(), {})) as mart:
        with pytest.raises(PublishRefused) as refused:
            publish_computed(mart, lake, "2026-11-02", artists_with_vector=10, k=2)
    hint = re.search(r"'python jobs/publish_mart.py (publish [^']*)'", str(refused.value))
    assert hint and hint.group(1) == "publish --dt 2026-11-02 --set similarity.k=2 --force", refused.value
    assert publish_mart.main(["publish", "--dt", "2026-11-02", "--force", *args]) == 2  # checks expect DEFAULT_K
    assert f"do not have exactly {DEFAULT_K} related artists" in capsys.readouterr().err
    assert publish_mart.main([*hint.group(1).split(), *args]) == 0
    assert len(snapshot_of_live(sqlite_mart)["related_artists"]) == 20


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
    # Exit 2 also covers a failure after the swap (the publish_log row): its message says the new set IS live.
    assert "(the live set is unchanged unless the message says the new set IS live)" in " ".join(out.split())


def test_cli_publish_expects_k_related_rows_from_similarity_k(spark, sqlite_mart, tmp_path, capsys):
    lake_dir = str(tmp_path / "lake")
    write_lake(spark, lake_dir, 50, "A", "2026-11-01", k=2)  # 2 related rows everywhere
    args = cli_args(sqlite_mart, lake_dir)
    assert publish_mart.main(["publish", "--dt", "2026-11-01", *args, "--set", "similarity.k=3"]) == 2
    assert "50 artists do not have exactly 3 related artists" in capsys.readouterr().err
    assert snapshot_of_live(sqlite_mart)["artists"] == []
    assert publish_mart.main(["publish", "--dt", "2026-11-01", *args, "--set", "similarity.k=0"]) == 2
    assert "similarity.k must be at least 1" in capsys.readouterr().err
    assert publish_mart.main(["publish", "--dt", "2026-11-01", *args, "--set", "similarity.k=2"]) == 0
    assert len(snapshot_of_live(sqlite_mart)["related_artists"]) == 100


def test_cli_refuses_publish_and_rollback_while_another_holds_the_lock(
    spark, mysql_mart, tmp_path, capsys, monkeypatch
):
    lake_dir = str(tmp_path / "lake")
    write_lake(spark, lake_dir, 20, "A", "2026-11-01")
    write_lake(spark, lake_dir, 20, "B", "2026-11-02")
    args = cli_args(mysql_mart, lake_dir)
    monkeypatch.setenv("MART_TEST_PASSWORD", mysql_mart.password)
    assert publish_mart.main(["publish", "--dt", "2026-11-01", *args]) == 0
    before = snapshot_of_live(mysql_mart)
    capsys.readouterr()
    with holding_publish_lock(mysql_mart):
        assert publish_mart.main(["publish", "--dt", "2026-11-02", *args]) == 2
        assert publish_mart.main(["rollback", "--force", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("another publish or rollback of this mart is running") == 2, err
        assert snapshot_of_live(mysql_mart) == before
    assert publish_mart.main(["publish", "--dt", "2026-11-02", *args]) == 0
    assert publish_mart.main(["status", *args]) == 0  # read-only, on MySQL too
    assert "live     artists 20" in capsys.readouterr().out


def test_cli_a_user_without_write_privileges_gets_one_clear_line_and_exit_2(
    spark, mysql_mart, mariadb, tmp_path, capsys, monkeypatch
):
    lake_dir = str(tmp_path / "lake")
    write_lake(spark, lake_dir, 20, "A", "2026-11-01")
    with Mart(spark, PublishSettings.from_config(mysql_mart.config(), mysql_mart.env())) as mart:
        mart.publish(mart_data.frames(spark, 20, "B"), "2026-10-31")
    before = snapshot_of_live(mysql_mart)
    database = mysql_mart.url.rsplit("/", 1)[1]
    reader, password = "mart_ro_" + secrets.token_hex(3), secrets.token_hex(12)
    root = mariadb.root()
    try:
        with root.cursor() as cursor:
            for host in ("127.0.0.1", "localhost"):
                cursor.execute("CREATE USER %s@%s IDENTIFIED BY %s", (reader, host, password))
                cursor.execute(f"GRANT SELECT ON `{database}`.* TO %s@%s", (reader, host))
        monkeypatch.setenv("MART_TEST_PASSWORD", password)
        args = [*cli_args(mysql_mart, lake_dir), "--set", f'mart.user="{reader}"']
        assert publish_mart.main(["publish", "--dt", "2026-11-01", *args]) == 2
    finally:
        with root.cursor() as cursor:
            for host in ("127.0.0.1", "localhost"):
                cursor.execute("DROP USER IF EXISTS %s@%s", (reader, host))
        root.close()
    err = capsys.readouterr().err
    assert "creating the staging table artists__staging failed" in err, err
    assert "command denied" in err and "grant the mart user" in err
    assert "Traceback" not in err and "py4j" not in err.lower()
    assert snapshot_of_live(mysql_mart) == before


@pytest.mark.jvm  # the command starts Spark itself (the mart is read over JDBC)
def test_status_only_reads_and_says_when_there_is_no_mart(any_mart, tmp_path, capsys, monkeypatch):
    args = cli_args(any_mart, str(tmp_path / "lake"))
    monkeypatch.setenv("MART_TEST_PASSWORD", any_mart.password)
    if any_mart.dialect == "sqlite":
        missing = tmp_path / "nowhere" / "mart.db"
        assert publish_mart.main(["status", *args, "--mart", f"jdbc:sqlite:{missing}"]) == 2
        assert f"no mart at jdbc:sqlite:{missing}: publish first" in capsys.readouterr().err
        assert not missing.parent.exists()
        empty = sqlite3.connect(tmp_path / "mart.db")  # a database file without mart tables
        empty.execute("CREATE TABLE other (x INTEGER)")
        empty.close()
    assert publish_mart.main(["status", *args]) == 2
    assert f"no mart at {any_mart.url}: publish first" in capsys.readouterr().err
    conn = any_mart.reader()
    try:
        if any_mart.dialect == "sqlite":
            assert serving.fetch_all(conn, "SELECT name FROM sqlite_master") == [("other",)]
            assert serving.fetch_all(conn, "PRAGMA journal_mode") == [("delete",)]
        else:
            assert (
                serving.fetch_all(
                    conn, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
                )
                == []
            )
    finally:
        conn.close()


def test_show_skips_a_popular_artist_whose_name_finds_nothing(spark, sqlite_mart, capsys):
    with Mart(spark, PublishSettings.from_config(sqlite_mart.config(), {})) as mart:
        mart.publish(mart_data.frames(spark, 10, "A"), "2026-11-01")
    conn = sqlite_mart.reader()
    try:  # the most popular artist's name has no lookup key: find_artist gives []
        serving.fetch_all(
            conn,
            "INSERT INTO artists (artist_id, name, name_key, popularity) VALUES (?, ?, ?, ?)",
            ("ar9999999", "\u200b", "", 1000),
        )
        serving.fetch_all(
            conn,
            "INSERT INTO related_artists (artist_id, `rank`, related_id, distance) VALUES (?, ?, ?, ?)",
            ("ar9999999", 1, "ar0000001", 0.5),
        )
        assert serving.find_artist(conn, "\u200b") == []
        lines = serving.describe_popular(conn, 3)
    finally:
        conn.close()
    assert len(lines) == 2 and lines[0].startswith("Artist 9 [A song 1 of 9")
    assert mart_cli.main(["--url", sqlite_mart.url, "--show", "3"]) == 0
    assert capsys.readouterr().out.splitlines() == lines
    assert publish_mart.main(["status", "--show", "3", *cli_args(sqlite_mart, "unused")]) == 0
    assert "Artist 9 [A song 1 of 9" in capsys.readouterr().out
