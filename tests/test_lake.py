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
