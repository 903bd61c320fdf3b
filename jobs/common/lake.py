"""The data lake: one Delta table per name under a root path, partitioned by ``dt``.

The root is a local folder, ``s3://bucket/prefix`` (EMR) or ``s3a://...``.
A snapshot is one ``dt`` (UTC date, ``YYYY-MM-DD``). Writing a snapshot
replaces that dt's rows atomically (Delta ``replaceWhere``) and leaves every
other dt alone, so re-running a batch never duplicates rows.

Delta commits one table at a time, so a job that writes several tables for a
dt does it inside :meth:`Lake.writing`, which marks the dt in the ``ingest_log``
table. While it writes, and after a crash until a re-run finishes, the dt is
*unfinished*: :meth:`Lake.read` refuses it and :meth:`Lake.snapshots` leaves it
out. :meth:`Lake.read` also pins the table's current Delta version, so a frame
read before a re-run starts keeps reading what it read (:meth:`Lake.read_snapshot`
pins several tables, then checks the mark once). A dt with no
``ingest_log`` row counts as finished.

Each run claims the dt with its own run id. Marking the dt complete (or putting
its previous mark back) is one Delta MERGE conditional on that run id: a run
that claimed the dt later, even between the check and the mark, makes the
merge match nothing (or conflict, Delta's optimistic concurrency), so readers
never see ``complete`` for a dt whose last claimant is still writing.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common.delta_log import DeltaLog
from jobs.common.errors import ConfigError, SnapshotError
from jobs.common.schemas import local_frame

log = logging.getLogger(__name__)

_DT_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DT_DIRECTORY = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")

INGEST_LOG = "ingest_log"
# Each write's commit carries "<_WRITE_MARK><dt> <run>" as its userMetadata: how its rows are found in the log.
_WRITE_MARK = "related-artists write dt="
_INGEST_LOG_SCHEMA = "state string, source string, updated_at string, rows map<string, bigint>, run_id string"


def parse_dt(text: str) -> str:
    """Validate a snapshot date and return it as ``YYYY-MM-DD``."""
    if not isinstance(text, str) or not _DT_FORMAT.match(text):
        raise ValueError(f"snapshot date {text!r} is not of the form YYYY-MM-DD")
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"snapshot date {text!r} is not a real date") from None
    return text


def is_delta_conflict(exc: BaseException) -> bool:
    """True when ``exc`` is Delta's refusal of a commit that conflicts with a concurrent one.

    Delta's conflicts are JVM exceptions extending ``java.util.ConcurrentModificationException``; PySpark
    raises them as a ``Py4JJavaError`` (or a ``CapturedException`` holding the JVM throwable). They are
    recognized from the JVM classes of the throwable and its causes, without Delta's Python package
    (``delta`` from pip has no ``delta.exceptions``; on a cluster Delta may be on the classpath only)."""
    throwable = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    try:
        for _ in range(8):  # the throwable, then its causes
            if throwable is None:
                break
            cls = throwable.getClass()
            while cls is not None:
                if cls.getName() == "java.util.ConcurrentModificationException":
                    return True
                cls = cls.getSuperclass()
            throwable = throwable.getCause()
    except Exception:  # not a JVM object after all
        pass
    return False


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def today_utc() -> str:
    return _dt.datetime.now(_dt.UTC).date().isoformat()


class HasLakePath(Protocol):
    """A job's settings: anything with the ``lake`` path (``lake.path``)."""

    lake: str


class Lake:
    """Reads and writes snapshots of the lake's Delta tables under ``root``."""

    def __init__(self, spark: SparkSession, root: str):
        if not root:
            raise ConfigError("the lake path is empty: set lake.path in the config or pass --lake")
        self.spark = spark
        # A relative local folder is taken from this process's working directory, not the JVM's.
        self.root = root.rstrip("/") if "://" in root else os.path.abspath(root)
        self._pins: dict[tuple[str, str], int] = {}  # (table, dt) -> the Delta version its frame reads

    @classmethod
    def from_settings(cls, spark: SparkSession, settings: HasLakePath) -> Lake:
        """The lake named by a job's settings."""
        return cls(spark, settings.lake)

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

    @contextmanager
    def writing(self, dt: str, source: str, tables: Sequence[str]) -> Iterator[dict[str, int]]:
        """Write ``tables`` of ``dt`` as one snapshot: the block fills the yielded ``{table: rows}``.

        The dt is marked unfinished in ``ingest_log`` first, so readers refuse it while the
        tables are committed one by one, and finished when the block ends. A block that fails
        before any of ``tables`` got a commit puts the dt's previous mark back (it is as
        whole as it was); one that fails later leaves the dt unfinished until a re-run
        completes it. If another run marked the same dt meanwhile, the tables may hold rows of
        both: the dt is marked unfinished again and SnapshotError raised, for a re-run to complete.
        """
        dt = parse_dt(dt)
        before = {table: self.version(table) for table in tables}
        previous = self._log_row(dt)
        run_id = uuid.uuid4().hex
        self._log_state(dt, "writing", source, {}, run_id)
        log.info("dt=%s marked unfinished in %s until all its tables are written", dt, self.path(INGEST_LOG))
        written: dict[str, int] = {}
        try:
            yield written
        except BaseException:
            if all(self.version(table) == version for table, version in before.items()):
                self._put_back(dt, previous, run_id)
            raise
        # The check names the other run; the conditional mark decides (a claim may land in between).
        current = self._log_row(dt)
        if (
            current is None
            or current.run_id != run_id
            or not self._mark_if_mine(dt, run_id, ("complete", source, _now(), written, run_id))
        ):
            # Another run wrote this dt meanwhile: its tables may hold some rows of each run.
            current = current if current is not None and current.run_id != run_id else self._log_row(dt)
            other = self._describe(current) if current else "a run that removed the mark"
            self._log_state(dt, "writing", source, {}, run_id)
            raise SnapshotError(
                f"dt={dt} was written by two runs at once (this one and {other}): it stays "
                f"unfinished; re-run jobs/ingest.py --dt {dt} once no other run writes it"
            )

    def unfinished(self) -> dict[str, str]:
        """``{dt: what started writing it}`` for each dt whose writing began and did not finish."""
        if not self.exists(INGEST_LOG):
            return {}
        rows = self.spark.read.format("delta").load(self.path(INGEST_LOG)).where(F.col("state") == "writing").collect()
        return {row.dt: self._describe(row) for row in rows}

    def version(self, table: str) -> int | None:
        """The current Delta version of ``table`` (None when it does not exist)."""
        return self._current_version(table) if self.exists(table) else None

    def _current_version(self, table: str) -> int:
        version = DeltaLog(self.spark, self.path(table)).latest_version()
        if version is not None:
            return version
        from delta.tables import DeltaTable  # a log this module cannot read: ask Delta (a Spark job)

        return int(DeltaTable.forPath(self.spark, self.path(table)).history(1).first()["version"])

    @staticmethod
    def _describe(row) -> str:
        return f"an ingest from {row.source} started at {row.updated_at} (run {row.run_id})"

    def _log_row(self, dt: str):
        if not self.exists(INGEST_LOG):
            return None
        return self.spark.read.format("delta").load(self.path(INGEST_LOG)).where(F.col("dt") == F.lit(dt)).first()

    def _log_state(self, dt: str, state: str, source: str, rows: dict[str, int], run_id: str) -> None:
        """Set the dt's mark whoever holds it (a claim, or marking it unfinished again)."""
        self.write(self._entry((state, source, _now(), rows, run_id)), INGEST_LOG, dt, quiet=True)

    def _entry(self, row: tuple, dt: str | None = None) -> DataFrame:
        """``(state, source, updated_at, rows, run_id)`` as an ``ingest_log`` frame (``dt`` column when given)."""
        counts = {k: int(v) for k, v in (row[3] or {}).items()}
        frame = local_frame(self.spark, [(*row[:3], counts, row[4])], _INGEST_LOG_SCHEMA)
        return frame if dt is None else frame.withColumn("dt", F.lit(dt))

    def _mark_if_mine(self, dt: str, run_id: str, row: tuple | None) -> bool:
        """Replace the dt's mark by ``row`` (None: remove it) only while ``run_id`` holds it: one Delta
        commit, so no other claim can land between the check and the mark. False when another run
        holds the dt, or committed to ``ingest_log``'s dt meanwhile (Delta's conflict check)."""
        view = f"ingest_log_mark_{uuid.uuid4().hex}"
        self._entry(row or ("", "", "", {}, ""), dt).createOrReplaceTempView(view)
        action = "UPDATE SET *" if row is not None else "DELETE"
        target = "delta.`" + self.path(INGEST_LOG).replace("`", "``") + "`"
        try:
            done = self.spark.sql(
                f"MERGE INTO {target} AS t USING {view} AS s ON t.dt = s.dt AND t.run_id = :run_id "
                f"WHEN MATCHED THEN {action}",
                args={"run_id": run_id},
            ).first()
        except Exception as exc:
            if not is_delta_conflict(exc):
                raise
            log.warning(
                "dt=%s: another run wrote %s while this one marked it: %s", dt, INGEST_LOG, str(exc).splitlines()[0]
            )
            return False
        finally:
            self.spark.catalog.dropTempView(view)
        return bool(done and done["num_affected_rows"])

    def _put_back(self, dt: str, previous, run_id: str) -> None:
        """Restore the dt's mark from before a run that committed none of its tables (if still its own)."""
        try:
            row = (
                None
                if previous is None
                else (previous.state, previous.source, previous.updated_at, dict(previous.rows or {}), previous.run_id)
            )
            if self._mark_if_mine(dt, run_id, row):
                log.info("dt=%s: nothing was committed, its previous state in %s is back", dt, self.path(INGEST_LOG))
            else:
                log.info("dt=%s: nothing was committed; another run has claimed it since", dt)
        except Exception as exc:  # the run's own error matters more; the dt stays marked unfinished
            log.warning("dt=%s: could not put back its previous state in %s: %s", dt, self.path(INGEST_LOG), exc)

    def latest_snapshot(self, table: str) -> str:
        found = self.snapshots(table)
        if not found:
            raise SnapshotError(f"lake table {table!r} has no snapshot at {self.path(table)}: run jobs/ingest.py first")
        return found[-1]

    def read(self, table: str, dt: str) -> DataFrame:
        """The rows of one snapshot; fails clearly when the table or the dt is missing or empty."""
        return self.read_snapshot(dt, [table])[table]

    def read_snapshot(self, dt: str, tables: Sequence[str]) -> dict[str, DataFrame]:
        """``{table: rows of snapshot dt}`` for several tables, as :meth:`read` each, with one look at the mark.

        Every table's version is pinned first, then the dt's mark in ``ingest_log`` checked once: a run
        that starts writing the dt afterwards changes neither what the frames read nor, once it has,
        what the check says. Fails clearly when a table or the dt is missing, unfinished or empty.
        """
        dt = parse_dt(dt)
        versions = {}
        for table in tables:
            if not self.exists(table):
                raise SnapshotError(
                    f"lake table {table!r} not found at {self.path(table)}: run jobs/ingest.py for dt={dt} first"
                )
            versions[table] = self._current_version(table)
        unfinished = self.unfinished().get(dt)
        if unfinished:
            raise SnapshotError(
                f"dt={dt} of the lake is unfinished: {unfinished} and did not complete "
                f"(see {self.path(INGEST_LOG)}); re-run jobs/ingest.py --dt {dt}"
            )
        return {table: self._pinned(table, dt, version) for table, version in versions.items()}

    def _pinned(self, table: str, dt: str, version: int) -> DataFrame:
        """Snapshot ``dt`` of ``table`` at Delta ``version``; refused when it has no rows."""
        frame = (
            self.spark.read.format("delta")
            .option("versionAsOf", version)
            .load(self.path(table))
            .where(F.col("dt") == F.lit(dt))
        )
        # The commit that last wrote the dt says its rows; else Delta counts them from its file statistics.
        rows = DeltaLog(self.spark, self.path(table)).partition_rows(_WRITE_MARK, dt, version)
        if rows is None:
            rows = frame.count()
        if rows == 0:
            found = self.snapshots(table)
            shown = ", ".join(found[-5:]) if found else "none"
            raise SnapshotError(f"lake table {table!r} has no rows for dt={dt} (latest snapshots: {shown})")
        log.info("read %s dt=%s: %d rows", self.path(table), dt, rows)
        self._pins[(table, dt)] = version
        return frame

    def column_has_values(self, table: str, dt: str, column: str) -> bool | None:
        """Whether some row of snapshot ``dt`` of ``table`` (at the version its frame was read, else the
        current one) has a value in ``column``, from the Delta log's file statistics: no data is scanned.
        None when the log cannot say (the caller asks Spark)."""
        dt = parse_dt(dt)
        version = self._pins.get((table, dt))
        if version is None:
            version = self.version(table)
        if version is None:
            return None
        return DeltaLog(self.spark, self.path(table)).partition_has_values(_WRITE_MARK, dt, version, column)

    def write(self, frame: DataFrame, table: str, dt: str, quiet: bool = False) -> int:
        """Replace snapshot ``dt`` of ``table`` with ``frame`` (whose ``dt`` column is set here).

        Returns the rows the snapshot now holds: the rows its commit wrote, from the commit's metrics in the
        Delta log (counted from the table's file statistics when the log does not say).
        """
        dt = parse_dt(dt)
        delta_log = DeltaLog(self.spark, self.path(table))
        before = delta_log.latest_version()
        marker = f"{_WRITE_MARK}{dt} {uuid.uuid4().hex}"
        (
            frame.withColumn("dt", F.lit(dt))
            .write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", f"dt = '{dt}'")
            .option("mergeSchema", "true")  # a column added to a table's schema joins older snapshots as null
            .option("userMetadata", marker)  # finds this write's commit in the log (its metrics: the rows)
            .partitionBy("dt")
            .save(self.path(table))
        )
        # The commit replaced the whole dt: the rows it wrote are the snapshot's rows.
        newest = delta_log.latest_version()
        rows = (
            delta_log.written_rows(marker, newest, 0 if before is None else before + 1) if newest is not None else None
        )
        if rows is None:
            rows = self._snapshot(table, dt).count() if self.exists(table) else 0
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "wrote %s for dt=%s to %s: %d rows",
            table,
            dt,
            self.path(table),
            rows,
        )
        return rows

    def _snapshot(self, table: str, dt: str) -> DataFrame:
        return self.spark.read.format("delta").load(self.path(table)).where(F.col("dt") == F.lit(dt))
