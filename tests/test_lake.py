"""Lake snapshots: replace one dt atomically, never touch the others, fail clearly when missing."""

from __future__ import annotations

import pytest

from jobs.common.config import ConfigError
from jobs.common.lake import Lake, SnapshotError, parse_dt


def test_rewriting_a_dt_replaces_it_and_keeps_other_dts(spark, lake_dir):
    lake = Lake(spark, lake_dir)
    lake.write(spark.createDataFrame([("a", 1), ("b", 2)], "id string, n int"), "things", "2026-01-01")
    lake.write(spark.createDataFrame([("c", 3)], "id string, n int"), "things", "2026-01-02")
    lake.write(spark.createDataFrame([("a", 10), ("z", 26)], "id string, n int"), "things", "2026-01-01")
    assert sorted(tuple(r) for r in lake.read("things", "2026-01-01").select("id", "n").collect()) == \
        [("a", 10), ("z", 26)]
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


def test_a_dt_whose_tables_were_not_all_written_is_refused_until_a_rerun_finishes(spark, lake_dir):
    lake = Lake(spark, lake_dir)
    for dt, rows in (("2026-01-01", [("old",)]), ("2026-01-02", [("old",)])):
        lake.begin_snapshot(dt, "test")
        lake.write(spark.createDataFrame(rows, "id string"), "artists", dt)
        lake.write(spark.createDataFrame(rows, "id string"), "top_tracks", dt)
        lake.finish_snapshot(dt, "test", {"artists": 1, "top_tracks": 1})
    assert lake.snapshots("artists") == ["2026-01-01", "2026-01-02"]

    # A re-run of 2026-01-02 commits artists, then dies writing top_tracks.
    lake.begin_snapshot("2026-01-02", "test")
    lake.write(spark.createDataFrame([("new",)], "id string"), "artists", "2026-01-02")
    with pytest.raises(Exception, match="source died"):
        lake.write(_failing_frame(spark), "top_tracks", "2026-01-02")

    # New artists beside old top tracks: nobody may read that dt, and "latest" falls back to the last whole one.
    for table in ("artists", "top_tracks"):
        with pytest.raises(SnapshotError, match=r"dt=2026-01-02 of the lake is unfinished: an ingest from test "
                                                r"started at .* re-run jobs/ingest.py --dt 2026-01-02"):
            lake.read(table, "2026-01-02")
        assert lake.latest_snapshot(table) == "2026-01-01"
    assert [r.id for r in lake.read("artists", "2026-01-01").collect()] == ["old"]
    assert list(lake.unfinished()) == ["2026-01-02"]

    lake.begin_snapshot("2026-01-02", "test")
    lake.write(spark.createDataFrame([("new",)], "id string"), "artists", "2026-01-02")
    lake.write(spark.createDataFrame([("new",)], "id string"), "top_tracks", "2026-01-02")
    lake.finish_snapshot("2026-01-02", "test", {"artists": 1, "top_tracks": 1})
    assert lake.unfinished() == {}
    assert [r.id for r in lake.read("top_tracks", "2026-01-02").collect()] == ["new"]
    assert lake.latest_snapshot("artists") == "2026-01-02"
    log = lake.spark.read.format("delta").load(lake.path("ingest_log")).where("dt = '2026-01-02'").collect()
    assert [(r.state, r.rows) for r in log] == [("complete", {"artists": 1, "top_tracks": 1})]
