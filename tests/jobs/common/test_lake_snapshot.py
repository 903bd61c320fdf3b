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
    lake._log_state(DT, "writing", "second", {}, "run-b")     # another run claims the dt
    with pytest.raises(SnapshotError, match=f"dt={DT} of the lake is unfinished: an ingest from second"):
        lake.read_snapshot(DT, ["artists", "top_tracks"])
