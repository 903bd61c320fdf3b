"""Lake.read_snapshot: several tables of one dt, each pinned at its version, the dt's mark read once."""

from __future__ import annotations

import pytest

from jobs.common.errors import SnapshotError
from jobs.common.lake import Lake

DT = "2026-01-01"


def _ingest(lake: Lake, rows: list[tuple]) -> None:
    with lake.writing(DT, "test", ["artists", "top_tracks"]) as written:
        for table in ("artists", "top_tracks"):
            written[table] = lake.write(lake.spark.createDataFrame(rows, "id string"), table, DT)


def test_the_frames_keep_their_versions_and_the_mark_is_read_once(spark, lake_dir, monkeypatch):
    lake = Lake(spark, lake_dir)
    _ingest(lake, [("old",)])
    looks, unfinished = [], Lake.unfinished

    def counted(self):
        looks.append(1)
        return unfinished(self)

    monkeypatch.setattr(Lake, "unfinished", counted)
    frames = lake.read_snapshot(DT, ["artists", "top_tracks"])
    assert len(looks) == 1 and list(frames) == ["artists", "top_tracks"]
    _ingest(lake, [("new",), ("newer",)])
    assert {t: [r.id for r in f.collect()] for t, f in frames.items()} == {"artists": ["old"], "top_tracks": ["old"]}
    assert sorted(r.id for r in lake.read_snapshot(DT, ["top_tracks"])["top_tracks"].collect()) == ["new", "newer"]


def test_a_missing_table_or_an_unfinished_dt_is_refused_as_by_read(spark, lake_dir):
    lake = Lake(spark, lake_dir)
    _ingest(lake, [("a",)])
    with pytest.raises(SnapshotError, match="lake table 'audio_features' not found .* run jobs/ingest.py"):
        lake.read_snapshot(DT, ["artists", "audio_features"])
    lake._log_state(DT, "writing", "second", {}, "run-b")  # another run claims the dt
    with pytest.raises(SnapshotError, match=f"dt={DT} of the lake is unfinished: an ingest from second"):
        lake.read_snapshot(DT, ["artists", "top_tracks"])


def test_the_log_says_whether_a_snapshot_has_values_in_a_column_as_spark_finds(spark, lake_dir):
    from jobs.transform.signals import features_on_tracks

    lake = Lake(spark, lake_dir)
    audio = "track_id string, audio_features struct<danceability:double,energy:double>"
    lake.write(spark.createDataFrame([("a",)], "track_id string"), "top_tracks", "2026-01-01")  # before the column
    lake.write(spark.createDataFrame([("a", (None, 0.5)), ("b", None)], audio), "top_tracks", "2026-01-02")
    lake.write(spark.createDataFrame([("a", None), ("b", (None, None))], audio), "top_tracks", "2026-01-03")
    said = {
        dt: lake.column_has_values("top_tracks", dt, "audio_features")
        for dt in ("2026-01-01", "2026-01-02", "2026-01-03")
    }
    assert said == {"2026-01-01": None, "2026-01-02": True, "2026-01-03": False}  # None: no statistics of it
    for dt, from_log in said.items():
        frame = lake.read("top_tracks", dt)
        assert features_on_tracks(frame, from_log) == (dt == "2026-01-02") == features_on_tracks(frame)

    # A commit that is not a write of a whole dt (here: a table property) leaves the older dts to Spark; files
    # without column statistics leave theirs to Spark too.
    spark.sql(
        f"ALTER TABLE delta.`{lake.path('top_tracks')}` SET TBLPROPERTIES ('delta.dataSkippingNumIndexedCols' = '0')"
    )
    lake.write(spark.createDataFrame([("a", (0.1, 0.2))], audio), "top_tracks", "2026-01-04")
    assert lake.column_has_values("top_tracks", "2026-01-02", "audio_features") is True  # at the version read
    now = Lake(spark, lake_dir)
    assert now.column_has_values("top_tracks", "2026-01-02", "audio_features") is None
    assert now.column_has_values("top_tracks", "2026-01-04", "audio_features") is None
    assert features_on_tracks(now.read("top_tracks", "2026-01-04"))
