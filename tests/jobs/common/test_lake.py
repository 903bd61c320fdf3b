"""Lake snapshots: replace one dt atomically, never touch the others, fail clearly when missing."""

from __future__ import annotations

import pytest

from jobs.common.errors import ConfigError, SnapshotError
from jobs.common.lake import Lake, is_delta_conflict, parse_dt


def test_rewriting_a_dt_replaces_it_and_keeps_other_dts(spark, lake_dir):
    lake = Lake(spark, lake_dir)
    lake.write(spark.createDataFrame([("a", 1), ("b", 2)], "id string, n int"), "things", "2026-01-01")
    lake.write(spark.createDataFrame([("c", 3)], "id string, n int"), "things", "2026-01-02")
    lake.write(spark.createDataFrame([("a", 10), ("z", 26)], "id string, n int"), "things", "2026-01-01")
    assert sorted(tuple(r) for r in lake.read("things", "2026-01-01").select("id", "n").collect()) == [
        ("a", 10),
        ("z", 26),
    ]
    assert [r.id for r in lake.read("things", "2026-01-02").collect()] == ["c"]
    assert lake.snapshots("things") == ["2026-01-01", "2026-01-02"]
    assert lake.latest_snapshot("things") == "2026-01-02"


def test_missing_table_and_missing_dt_say_what_to_do(spark, lake_dir):
    lake = Lake(spark, lake_dir)
    with pytest.raises(SnapshotError, match="not found .* run jobs/ingest.py"):
        lake.read("artists", "2026-01-01")
    with pytest.raises(SnapshotError, match="no snapshot"):
        lake.latest_snapshot("artists")
    lake.write(spark.createDataFrame([("a",)], "id string"), "artists", "2026-01-01")
    with pytest.raises(SnapshotError, match=r"no rows for dt=2026-02-01 \(latest snapshots: 2026-01-01\)"):
        lake.read("artists", "2026-02-01")


@pytest.mark.parametrize("bad", ["2026-1-1", "2026-02-30", "yesterday", "2026-01-01' OR '1'='1"])
def test_bad_dates_are_refused(bad):
    with pytest.raises(ValueError):
        parse_dt(bad)


def test_empty_lake_path_is_a_config_error(spark):
    with pytest.raises(ConfigError, match="lake.path"):
        Lake(spark, "")


def test_write_returns_the_rows_of_the_snapshot(spark, lake_dir):
    lake = Lake(spark, lake_dir)
    assert lake.write(spark.createDataFrame([("a",), ("b",)], "id string"), "things", "2026-01-01") == 2
    assert lake.write(spark.createDataFrame([("c",)], "id string"), "things", "2026-01-02") == 1
    assert lake.write(spark.createDataFrame([], "id string"), "things", "2026-01-01") == 0
    assert lake.snapshots("things") == ["2026-01-02"]


def _failing_frame(spark):
    """A frame that fails only when a write evaluates it, like a source dying mid-write."""
    from pyspark.sql import functions as F

    @F.udf("string")
    def explode_on_write(value):
        raise RuntimeError("source died while its table was being written")

    return spark.createDataFrame([("x",)], "id string").withColumn("id", explode_on_write("id"))


def _ingest(lake, dt, rows, fail_on=None):
    """Write artists then top_tracks of ``dt`` as one snapshot; ``fail_on`` names the table whose write dies."""
    spark = lake.spark
    with lake.writing(dt, "test", ["artists", "top_tracks"]) as written:
        for table in ("artists", "top_tracks"):
            frame = _failing_frame(spark) if table == fail_on else spark.createDataFrame(rows, "id string")
            written[table] = lake.write(frame, table, dt)


def test_a_dt_whose_tables_were_not_all_written_is_refused_until_a_rerun_finishes(spark, lake_dir):
    lake = Lake(spark, lake_dir)
    _ingest(lake, "2026-01-01", [("old",)])
    _ingest(lake, "2026-01-02", [("old",)])
    assert lake.snapshots("artists") == ["2026-01-01", "2026-01-02"]

    # A re-run of 2026-01-02 commits artists, then dies writing top_tracks.
    with pytest.raises(Exception, match="source died"):
        _ingest(lake, "2026-01-02", [("new",)], fail_on="top_tracks")

    # New artists beside old top tracks: nobody may read that dt, and "latest" falls back to the last whole one.
    for table in ("artists", "top_tracks"):
        with pytest.raises(
            SnapshotError,
            match=r"dt=2026-01-02 of the lake is unfinished: an ingest from test "
            r"started at .* re-run jobs/ingest.py --dt 2026-01-02",
        ):
            lake.read(table, "2026-01-02")
        assert lake.latest_snapshot(table) == "2026-01-01"
    assert [r.id for r in lake.read("artists", "2026-01-01").collect()] == ["old"]
    assert list(lake.unfinished()) == ["2026-01-02"]

    _ingest(lake, "2026-01-02", [("new",)])
    assert lake.unfinished() == {}
    assert [r.id for r in lake.read("top_tracks", "2026-01-02").collect()] == ["new"]
    assert lake.latest_snapshot("artists") == "2026-01-02"
    log = lake.spark.read.format("delta").load(lake.path("ingest_log")).where("dt = '2026-01-02'").collect()
    assert [(r.state, r.rows) for r in log] == [("complete", {"artists": 1, "top_tracks": 1})]


def test_a_run_that_commits_nothing_leaves_the_dt_as_it_was(spark, lake_dir):
    lake = Lake(spark, lake_dir)
    _ingest(lake, "2026-01-01", [("old",)])
    before = lake.spark.read.format("delta").load(lake.path("ingest_log")).collect()
    with pytest.raises(Exception, match="source died"):
        _ingest(lake, "2026-01-01", [("new",)], fail_on="artists")
    assert lake.unfinished() == {}
    assert [r.id for r in lake.read("top_tracks", "2026-01-01").collect()] == ["old"]
    assert lake.spark.read.format("delta").load(lake.path("ingest_log")).collect() == before
    # A first run of a dt that commits nothing leaves no mark at all.
    with pytest.raises(Exception, match="source died"):
        _ingest(lake, "2026-01-05", [("new",)], fail_on="artists")
    assert lake.unfinished() == {} and lake.snapshots("artists") == ["2026-01-01"]


def test_two_runs_of_one_dt_at_once_leave_it_unfinished_for_a_rerun(spark, lake_dir):
    lake = Lake(spark, lake_dir)
    with pytest.raises(SnapshotError, match="dt=2026-01-01 was written by two runs at once .*an ingest from second"):
        with lake.writing("2026-01-01", "first", ["artists", "top_tracks"]) as written:
            written["artists"] = lake.write(spark.createDataFrame([("a",)], "id string"), "artists", "2026-01-01")
            with lake.writing("2026-01-01", "second", ["artists", "top_tracks"]) as inner:
                for table in ("artists", "top_tracks"):
                    inner[table] = lake.write(spark.createDataFrame([("b",)], "id string"), table, "2026-01-01")
            # The first run goes on after the second has finished: top_tracks is now its, artists the second's.
            written["top_tracks"] = lake.write(spark.createDataFrame([("a",)], "id string"), "top_tracks", "2026-01-01")
    assert list(lake.unfinished()) == ["2026-01-01"]
    with pytest.raises(SnapshotError, match="unfinished: an ingest from first"):
        lake.read("artists", "2026-01-01")
    _ingest(lake, "2026-01-01", [("c",)])
    assert [r.id for r in lake.read("artists", "2026-01-01").collect()] == ["c"]


def test_a_frame_read_before_a_rerun_keeps_reading_what_it_read(spark, lake_dir):
    lake = Lake(spark, lake_dir)
    _ingest(lake, "2026-01-01", [("old",)])
    artists = lake.read("artists", "2026-01-01")
    _ingest(lake, "2026-01-01", [("new",), ("newer",)])
    assert [r.id for r in artists.collect()] == ["old"]
    assert sorted(r.id for r in lake.read("artists", "2026-01-01").collect()) == ["new", "newer"]


def test_a_claim_between_the_check_and_the_mark_never_shows_the_dt_complete(spark, lake_dir, monkeypatch):
    """Run B claims the dt after run A checked its run id and before A marks the dt complete."""
    lake = Lake(spark, lake_dir)
    read_mark, armed = Lake._log_row, []

    def check_then_claim(self, dt):
        row = read_mark(self, dt)
        if armed:  # A's check has read its own mark: B claims the dt now, before A's mark
            armed.clear()
            self._log_state(dt, "writing", "second", {}, "run-b")
        return row

    monkeypatch.setattr(Lake, "_log_row", check_then_claim)
    with pytest.raises(SnapshotError, match="dt=2026-01-01 was written by two runs at once .*an ingest from second"):
        with lake.writing("2026-01-01", "first", ["artists"]) as written:
            written["artists"] = lake.write(spark.createDataFrame([("a",)], "id string"), "artists", "2026-01-01")
            armed.append(True)
    assert not armed  # the claim did land between the check and the mark
    # B is still writing: readers must not see the dt complete.
    assert list(lake.unfinished()) == ["2026-01-01"]
    with pytest.raises(SnapshotError, match="dt=2026-01-01 of the lake is unfinished"):
        lake.read("artists", "2026-01-01")
    assert lake.snapshots("artists") == []


def test_a_failed_run_does_not_put_back_a_mark_over_a_later_claim(spark, lake_dir):
    """A run that committed nothing restores the previous mark only while the dt is still its own."""
    lake = Lake(spark, lake_dir)
    _ingest(lake, "2026-01-01", [("old",)])
    with pytest.raises(RuntimeError, match="source died"):
        with lake.writing("2026-01-01", "first", ["artists"]):
            lake._log_state("2026-01-01", "writing", "second", {}, "run-b")  # B claims while A runs
            raise RuntimeError("source died")
    assert "an ingest from second" in lake.unfinished()["2026-01-01"]


def test_a_delta_conflict_is_recognized_from_its_jvm_class_without_deltas_python_package(spark):
    """The mark's MERGE tells Delta's commit conflicts from other failures by the JVM classes alone: on a
    cluster whose Delta is on the classpath only, ``delta.exceptions`` cannot be imported."""
    from py4j.protocol import Py4JJavaError

    jvm = spark.sparkContext._jvm

    def thrown_by_the_jvm(throwable):
        future = jvm.java.util.concurrent.CompletableFuture()
        future.completeExceptionally(throwable)
        with pytest.raises(Py4JJavaError) as raised:
            future.join()  # thrown in the JVM, wrapped in a CompletionException
        return raised.value

    assert is_delta_conflict(thrown_by_the_jvm(jvm.io.delta.exceptions.ConcurrentAppendException("added meanwhile")))
    assert not is_delta_conflict(thrown_by_the_jvm(jvm.java.lang.IllegalStateException("something else")))
    assert not is_delta_conflict(ValueError("not from the JVM"))
