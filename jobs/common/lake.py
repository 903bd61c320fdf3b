"""The data lake: one Delta table per name under a root path, partitioned by ``dt``.

The root is a local folder, ``s3://bucket/prefix`` (EMR) or ``s3a://...``.
A snapshot is one ``dt`` (UTC date, ``YYYY-MM-DD``). Writing a snapshot
replaces that dt's rows atomically (Delta ``replaceWhere``) and leaves every
other dt alone, so re-running a batch never duplicates rows.

Delta commits one table at a time, so a job that writes several tables for a
dt brackets them with :meth:`Lake.begin_snapshot` and :meth:`Lake.finish_snapshot`
(rows of the ``ingest_log`` table). Between the two, and forever after a crash
until a re-run finishes, the dt is *unfinished*: :meth:`Lake.read` refuses it
and :meth:`Lake.snapshots` leaves it out, so no reader sees one table's new
rows beside another's old ones. A dt with no ``ingest_log`` row counts as
finished.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common.config import ConfigError

log = logging.getLogger(__name__)

_DT_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DT_DIRECTORY = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")

INGEST_LOG = "ingest_log"
_INGEST_LOG_SCHEMA = "state string, source string, updated_at string, rows map<string, bigint>"


class SnapshotError(RuntimeError):
    """A lake table or snapshot that a job needs is missing or empty."""


def parse_dt(text: str) -> str:
    """Validate a snapshot date and return it as ``YYYY-MM-DD``."""
    if not isinstance(text, str) or not _DT_FORMAT.match(text):
        raise ValueError(f"snapshot date {text!r} is not of the form YYYY-MM-DD")
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"snapshot date {text!r} is not a real date") from None
    return text


def today_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).date().isoformat()


class Lake:
    """Reads and writes snapshots of the lake's Delta tables under ``root``."""

    def __init__(self, spark: SparkSession, root: str):
        if not root:
            raise ConfigError("the lake path is empty: set lake.path in the config or pass --lake")
        self.spark = spark
        # A relative local folder is taken from this process's working directory, not the JVM's.
        self.root = root.rstrip("/") if "://" in root else os.path.abspath(root)

    def path(self, table: str) -> str:
        return f"{self.root}/{table}"

    def exists(self, table: str) -> bool:
        from delta.tables import DeltaTable
        return DeltaTable.isDeltaTable(self.spark, self.path(table))

    def snapshots(self, table: str) -> list[str]:
        """The finished dts present in ``table``, oldest first (empty when the table does not exist)."""
        if not self.exists(table):
            return []
        # The files of the table's current version, from the Delta log: no data is scanned.
        files = self.spark.read.format("delta").load(self.path(table)).inputFiles()
        found = {match.group(1) for match in map(_DT_DIRECTORY.search, files) if match}
        return sorted(found - set(self.unfinished()))

    def begin_snapshot(self, dt: str, source: str) -> None:
        """Mark ``dt`` unfinished before writing its tables: readers refuse it until :meth:`finish_snapshot`."""
        self._log_state(dt, "writing", source, {})
        log.info("dt=%s marked unfinished in %s until all its tables are written", dt, self.path(INGEST_LOG))

    def finish_snapshot(self, dt: str, source: str, rows: dict[str, int]) -> None:
        """Mark ``dt`` finished, with the rows written per table: readers see all its tables from now on."""
        self._log_state(dt, "complete", source, rows)

    def unfinished(self) -> dict[str, str]:
        """``{dt: what started writing it}`` for each dt whose writing began and did not finish."""
        if not self.exists(INGEST_LOG):
            return {}
        rows = (self.spark.read.format("delta").load(self.path(INGEST_LOG))
                .where(F.col("state") == "writing").select("dt", "source", "updated_at").collect())
        return {row.dt: f"an ingest from {row.source} started at {row.updated_at}" for row in rows}

    def _log_state(self, dt: str, state: str, source: str, rows: dict[str, int]) -> None:
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        entry = self.spark.createDataFrame([(state, source, now, {k: int(v) for k, v in rows.items()})],
                                           _INGEST_LOG_SCHEMA)
        self.write(entry, INGEST_LOG, dt, quiet=True)

    def latest_snapshot(self, table: str) -> str:
        found = self.snapshots(table)
        if not found:
            raise SnapshotError(f"lake table {table!r} has no snapshot at {self.path(table)}: "
                                "run jobs/ingest.py first")
        return found[-1]

    def read(self, table: str, dt: str) -> DataFrame:
        """The rows of one snapshot; fails clearly when the table or the dt is missing or empty."""
        dt = parse_dt(dt)
        if not self.exists(table):
            raise SnapshotError(f"lake table {table!r} not found at {self.path(table)}: "
                                f"run jobs/ingest.py for dt={dt} first")
        unfinished = self.unfinished().get(dt)
        if unfinished:
            raise SnapshotError(f"dt={dt} of the lake is unfinished: {unfinished} and did not complete "
                                f"(see {self.path(INGEST_LOG)}); re-run jobs/ingest.py --dt {dt}")
        frame = self._snapshot(table, dt)
        rows = frame.count()  # answered from the Delta log's file statistics: no data is scanned
        if rows == 0:
            found = self.snapshots(table)
            shown = ", ".join(found[-5:]) if found else "none"
            raise SnapshotError(f"lake table {table!r} has no rows for dt={dt} "
                                f"(latest snapshots: {shown})")
        log.info("read %s dt=%s: %d rows", self.path(table), dt, rows)
        return frame

    def write(self, frame: DataFrame, table: str, dt: str, quiet: bool = False) -> int:
        """Replace snapshot ``dt`` of ``table`` with ``frame`` (whose ``dt`` column is set here).

        Returns the rows the snapshot now holds (from the Delta log's statistics).
        """
        dt = parse_dt(dt)
        (frame.withColumn("dt", F.lit(dt))
         .write.format("delta")
         .mode("overwrite")
         .option("replaceWhere", f"dt = '{dt}'")
         .partitionBy("dt")
         .save(self.path(table)))
        rows = self._snapshot(table, dt).count() if self.exists(table) else 0
        log.log(logging.DEBUG if quiet else logging.INFO, "wrote %s for dt=%s to %s: %d rows",
                table, dt, self.path(table), rows)
        return rows

    def _snapshot(self, table: str, dt: str) -> DataFrame:
        return self.spark.read.format("delta").load(self.path(table)).where(F.col("dt") == F.lit(dt))
