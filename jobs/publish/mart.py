"""Publishing to the mart: staging tables, checks, one atomic swap, a rollback, a log.

A publish never changes what readers see until its last step:

0. the mart-wide publish lock is taken (a second publish or rollback fails at once);
1. the drop guard compares the new row counts with the live ones;
2. Spark writes the four serving tables to ``<table>__staging``: by ``LOAD DATA LOCAL INFILE`` from its
   tasks when a MySQL server allows it, else over JDBC (batched);
3. the lock is verified, and checks run on the staging tables (counts, references, self
   relations, k per artist);
4. the lock is verified again, and one swap makes staging live and keeps the old live set as
   ``<table>__previous``: a single ``RENAME TABLE`` in MySQL, one transaction in SQLite (one writer);
5. a row goes into ``publish_log``;
6. the lock is released.

The lock is MySQL's ``GET_LOCK`` on the publish's own (control) connection, or an exclusive
``flock`` on ``<database file>.publish-lock`` for SQLite. A process that dies frees both (its
socket is closed, its file closed). MySQL holds the lock as long as it believes the connection
alive: a connection cut without the server noticing (a network failure) keeps it until the
server gives up on it, after ``wait_timeout`` seconds (8 hours by default). The other way round, a
control connection the server dropped (``KILL``, a timeout, a restart) has lost the lock while
the staging writes go on over other connections: hence the checks of steps 3 and 4, which stop
the publish with MartError, nothing swapped.

Missing tables are created under the same lock (two first publishes do not both create them).

A publish that dies before step 4 leaves the live set as it was; the next one
drops the leftover staging tables and starts again. The kept tables (``mart.schema.KEPT_TABLES``: the
chatbot's requests, confirmations and chat listens) are never touched.

The steps live beside this orchestrating module: ``lock.py`` (step 0), ``checks.py`` (steps 1 and 3),
``staging.py`` (step 2), ``swap.py`` (step 4), ``tables.py`` (the tables, created or required),
``steps.py`` (a step's errors as one MartError) and ``settings.py`` (the ``[mart]`` section).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from jobs.common.errors import MartError
from jobs.common.jdbc import MartConnection
from jobs.publish import tables as mart_tables
from jobs.publish.checks import Expected, check_staging, drop_guard
from jobs.publish.frames import MartFrames
from jobs.publish.load_data import staging_loader
from jobs.publish.lock import lock_for, utc_now
from jobs.publish.settings import PublishSettings
from jobs.publish.staging import write_staging
from jobs.publish.steps import database_step
from jobs.publish.swap import rename_plan, swap_for
from mart.schema import PREVIOUS, SCHEMA_VERSION, SERVING_TABLES, STAGING

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishReport:
    run_id: str
    dt: str
    counts: dict[str, int]
    forced: bool
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)


class Mart:
    """The mart behind one JDBC connection: schema, publish, rollback, status. A context manager.

    Opening it connects at once (bad settings fail before any work) and creates
    missing tables from ``mart/ddl/<dialect>.sql``, holding the publish lock while it does
    (MartBusy when another publish or rollback holds it). With ``readonly`` it changes nothing
    (no tables, no journal mode; publish and rollback refuse) and raises MartError when
    the database holds no mart.
    """

    def __init__(self, spark: SparkSession, settings: PublishSettings, readonly: bool = False):
        self.spark = spark
        self.settings = settings
        self.target = settings.target
        self.readonly = readonly
        self.conn = MartConnection(spark, settings.target, readonly=readonly)
        self._lock = lock_for(self.conn, self.target)
        self._swap_sets = swap_for(self.conn.dialect)
        self._loader = None  # how the staging tables are written: set per publish (load_data.py)
        try:
            if readonly:
                mart_tables.require_schema(self.conn, self.target)
            else:
                with self._database_step("creating the mart tables"):
                    self.ensure_schema()
        except BaseException:
            self.conn.close()
            raise

    def __enter__(self) -> Mart:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def ensure_schema(self) -> list[str]:
        """Migrate an outdated mart and create its missing tables under the publish lock (``tables.py``)."""
        return mart_tables.ensure_schema(self.conn, self.target, self._publish_lock)

    def counts(self, suffix: str = "") -> dict[str, int]:
        """Rows of each serving table of one set: live (``""``), staging or previous (missing: -1)."""
        present = self.conn.tables()
        return {
            table: int(self.conn.scalar(f"SELECT COUNT(*) FROM {table}{suffix}"))
            if f"{table}{suffix}" in present
            else -1
            for table in SERVING_TABLES
        }

    def history(self, limit: int = 5) -> list[tuple]:
        """The latest publish_log rows, newest first."""
        return self.conn.query(
            "SELECT run_id, action, dt, published_at, artists, artist_aliases, top_tracks, related_artists, forced "
            "FROM publish_log ORDER BY published_at DESC, run_id DESC LIMIT ?",
            (int(limit),),
        )

    def _database_step(self, what: str, outcome: str = "the live set is unchanged") -> AbstractContextManager:
        """One step whose driver or Spark error becomes a one-line MartError (``steps.py``)."""
        return database_step(self.target, what, outcome)

    @contextmanager
    def _publish_lock(self, action: str) -> Iterator[None]:
        """Hold the mart-wide publish lock for one publish or rollback; MartBusy at once when it is taken."""
        if self.readonly:
            raise MartError(f"{action}: this mart connection is read-only")
        self._lock.acquire(action)
        try:
            yield
        finally:
            self._lock.release()

    def _verify_lock(self, action: str) -> None:
        """Raise MartError unless this mart still holds the publish lock (see ``lock.py``)."""
        self._lock.verify(action)

    # -- publish ----------------------------------------------------------------------------------------

    def publish(
        self,
        frames: MartFrames,
        dt: str,
        parameters: Mapping | None = None,
        force: bool = False,
        artists_with_vector: int | None = None,
        k: int | None = None,
    ) -> PublishReport:
        """Make ``frames`` the live serving tables, or raise and leave the live set as it was.

        ``artists_with_vector`` and ``k`` let the checks require exactly ``min(k, n - 1)``
        related rows for each of the ``n`` artists with a vector (none at all when ``n`` is 1).
        Without ``artists_with_vector`` the artists with a vector are taken to be the ones
        that have related rows; without ``k``, k is the largest count of related rows found.
        Holds the mart's publish lock throughout: MartBusy when another publish or rollback runs.
        """
        with self._publish_lock("publish"):
            return self._publish(frames, dt, parameters, force, artists_with_vector, k)

    def _publish(
        self,
        frames: MartFrames,
        dt: str,
        parameters: Mapping | None,
        force: bool,
        artists_with_vector: int | None,
        k: int | None,
    ) -> PublishReport:
        run_id = f"{dt}-{_dt.datetime.now(_dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        stages: dict[str, float] = {}
        tables = {name: frame.persist(StorageLevel.MEMORY_AND_DISK) for name, frame in frames.tables().items()}
        try:
            mark = time.perf_counter()
            rows = {name: frame.count() for name, frame in tables.items()}
            stages["prepare"] = time.perf_counter() - mark
            log.info("publish %s: %s", run_id, ", ".join(f"{n} {c:,}" for n, c in rows.items()))
            drop_guard(self.counts(), rows, self.settings.max_drop, force)

            mark = time.perf_counter()
            with self._database_step("choosing how to write the staging tables"):
                self._loader = staging_loader(self.conn, self.target, self.settings.staging_load)
            for name, frame in tables.items():
                self._stage(name, frame)
            stages["staging writes"] = time.perf_counter() - mark
        finally:
            for frame in tables.values():
                frame.unpersist()

        mark = time.perf_counter()
        self._verify_lock("publish")
        self._check(Expected(rows, artists_with_vector, k))
        stages["checks"] = time.perf_counter() - mark

        mark = time.perf_counter()
        record = dict(parameters or {}, schema_version=SCHEMA_VERSION)
        self._swap(
            STAGING,
            drop_previous=True,
            log_row=(run_id, "publish", dt, rows, force, json.dumps(record, sort_keys=True)),
        )
        stages["swap"] = time.perf_counter() - mark
        seconds = time.perf_counter() - started
        total = sum(rows.values())
        log.info(
            "published %s (dt=%s) in %.1f s (%s rows/s): %s",
            run_id,
            dt,
            seconds,
            f"{total / seconds:,.0f}" if seconds else "-",
            ", ".join(f"{stage} {s:.1f} s" for stage, s in stages.items()),
        )
        return PublishReport(run_id=run_id, dt=dt, counts=rows, forced=force, seconds=seconds, stage_seconds=stages)

    def _stage(self, table: str, frame: DataFrame) -> None:
        """Write ``frame`` to the staging table of ``table`` (``staging.py``)."""
        write_staging(self.conn, self.settings, table, frame, self._database_step, self._loader)

    def _check(self, expected: Expected) -> None:
        """Raise PublishCheckFailed unless the staging set is what ``expected`` says (``checks.py``)."""
        check_staging(self.conn, expected)

    # -- swap and rollback ------------------------------------------------------------------------------

    def _swap(self, incoming: str, drop_previous: bool, log_row: tuple) -> None:
        """Make the ``incoming`` set live and the live set previous, in one step, and log it (``swap.py``).

        With ``drop_previous`` the old previous set is dropped first (a publish); without, it is
        the incoming set and the two trade places (a rollback). On MySQL the publish lock is
        verified first (MartError, nothing swapped, when it was lost).
        """
        self._swap_sets(
            self.conn,
            rename_plan(incoming, drop_previous),
            drop_previous=drop_previous,
            action=log_row[1],
            write_log=lambda: self._log(*log_row),
            verify_lock=self._verify_lock,
            step=self._database_step,
            lock_wait_seconds=self.settings.lock_wait_seconds,
            lock_attempts=self.settings.lock_attempts,
        )

    def _log(
        self, run_id: str, action: str, dt: str | None, counts: Mapping[str, int], forced: bool, parameters: str
    ) -> None:
        self.conn.execute(
            "INSERT INTO publish_log (run_id, action, dt, published_at, artists, artist_aliases, top_tracks, "
            "related_artists, forced, parameters) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, action, dt, utc_now(), *(int(counts[t]) for t in SERVING_TABLES), bool(forced), parameters),
        )

    def rollback(self, force: bool = False) -> PublishReport:
        """Swap the previous set back in (the live one becomes previous: a second rollback undoes the first).

        The drop guard applies: rolling back to a much smaller set (such as the empty one a
        first publish replaced) needs ``force``. Holds the mart's publish lock (MartBusy when taken).
        """
        with self._publish_lock("rollback"):
            return self._rollback(force)

    def _rollback(self, force: bool) -> PublishReport:
        previous = self.counts(PREVIOUS)
        missing = [table for table, rows in previous.items() if rows < 0]
        if missing:
            raise MartError(
                "nothing to roll back to: the mart holds no previous set "
                f"(missing {', '.join(t + PREVIOUS for t in missing)})"
            )
        drop_guard(self.counts(), previous, self.settings.max_drop, force, action="rollback")
        started = time.perf_counter()
        # Each publish_log row names the dt it made live: the previous set is the one before the latest.
        restored = self.conn.query("SELECT dt FROM publish_log ORDER BY published_at DESC, run_id DESC LIMIT 2")
        dt = str(restored[1][0]) if len(restored) > 1 and restored[1][0] is not None else None
        run_id = f"rollback-{_dt.datetime.now(_dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        self._swap(
            PREVIOUS,
            drop_previous=False,
            log_row=(run_id, "rollback", dt, previous, False, json.dumps({"restored_dt": dt})),
        )
        seconds = time.perf_counter() - started
        log.info(
            "rolled back to the previous set (dt=%s) in %.2f s: %s",
            dt,
            seconds,
            ", ".join(f"{t} {c:,}" for t, c in previous.items()),
        )
        return PublishReport(run_id=run_id, dt=dt or "", counts=previous, forced=False, seconds=seconds)
