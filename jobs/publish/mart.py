"""Publishing to the mart: staging tables, checks, one atomic swap, a rollback, a log.

A publish never changes what readers see until its last step:

0. the mart-wide publish lock is taken (a second publish or rollback fails at once);
1. the drop guard compares the new row counts with the live ones;
2. Spark writes the four serving tables to ``<table>__staging`` over JDBC (batched);
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
drops the leftover staging tables and starts again. ``artist_requests`` is never touched.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import logging
import os
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from jobs.common.config import section
from jobs.common.errors import ConfigError, MartError
from jobs.common.java_errors import is_java_error, is_sql_error, java_message, root_cause_message
from jobs.common.jdbc import MartConnection, MartTarget
from jobs.publish.frames import MartFrames
from mart.schema import ALL_TABLES, COLUMNS, PREVIOUS, RETIRED, SCHEMA_VERSION, SERVING_TABLES, STAGING, SWAP, \
    create_statements

log = logging.getLogger(__name__)

# Tables the drop guard compares with the live set.
GUARDED_TABLES = ("artists", "top_tracks", "related_artists")

# MySQL user-level lock names are server-wide (and at most 64 characters): the database name is part of it.
LOCK_PREFIX = "mart_publish:"


def mysql_lock_name(database: str) -> str:
    """The ``GET_LOCK`` name of the publish lock of MySQL database ``database``."""
    return f"{LOCK_PREFIX}{database}"[:64]


def sqlite_lock_file(database: Path) -> Path:
    """The file whose ``flock`` is the publish lock of SQLite database file ``database``."""
    return database.with_name(database.name + ".publish-lock")


class PublishRefused(MartError):
    """The drop guard refused a publish: its row counts fall far below the live ones."""


class PublishCheckFailed(MartError):
    """The staging tables failed a check; the live set was left as it was."""


class MartBusy(MartError):
    """Another publish or rollback holds the mart's publish lock; nothing was changed."""


@dataclass(frozen=True)
class PublishSettings:
    """The ``[mart]`` section: where the mart is and how to publish to it."""

    target: MartTarget
    publish: bool = True
    tracks_per_artist: int = 3
    max_drop: float = 0.5
    batch_size: int = 10000
    write_partitions: int = 2
    lock_wait_seconds: int = 2     # per attempt: how long the swap may queue readers behind its metadata lock
    lock_attempts: int = 4

    @classmethod
    def from_config(cls, config: Mapping, env: Mapping[str, str] | None = None) -> "PublishSettings":
        mart = section(config, "mart")
        try:
            settings = cls(
                target=MartTarget.from_config(mart, env),
                publish=bool(mart.get("publish", True)),
                tracks_per_artist=int(mart.get("tracks_per_artist", 3)),
                max_drop=float(mart.get("max_drop", 0.5)),
                batch_size=int(mart.get("batch_size", 10000)),
                write_partitions=int(mart.get("write_partitions", 2)),
                lock_wait_seconds=int(mart.get("lock_wait_seconds", 2)),
                lock_attempts=int(mart.get("lock_attempts", 4)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"mart settings: {exc}") from None
        if not 0 <= settings.max_drop <= 1:
            raise ConfigError(f"mart.max_drop must be between 0 and 1, got {settings.max_drop}")
        if settings.tracks_per_artist < 1 or settings.batch_size < 1 or settings.write_partitions < 1:
            raise ConfigError("mart.tracks_per_artist, mart.batch_size and mart.write_partitions must be positive")
        if settings.lock_wait_seconds < 1 or settings.lock_attempts < 1:
            raise ConfigError("mart.lock_wait_seconds and mart.lock_attempts must be at least 1")
        return settings


@dataclass(frozen=True)
class PublishReport:
    run_id: str
    dt: str
    counts: dict[str, int]
    forced: bool
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


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
        self._mysql_lock: str | None = None   # the GET_LOCK name while this mart holds it
        try:
            if readonly:
                self._require_schema()
            else:
                with self._database_step("creating the mart tables"):
                    self.ensure_schema()
        except BaseException:
            self.conn.close()
            raise

    def __enter__(self) -> "Mart":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    # -- schema and state -------------------------------------------------------------------------------

    def ensure_schema(self) -> list[str]:
        """Bring a mart of an older schema version to this one in place (``mart.migrate``, every row
        kept), then create the mart tables that are missing (empty); returns the missing tables' names.

        Either way the publish lock is taken (MartBusy at once when another publish or rollback
        holds it) and what is to do is looked up again under it, so two first publishes never both
        create a table or migrate.
        """
        if self.conn.dialect == "sqlite":
            # Readers keep reading while the job writes, and see the swap as one commit.
            self.conn.query("PRAGMA journal_mode=WAL")
        if not self._missing_tables() and not self._outdated():
            return []
        with self._publish_lock("creating the mart tables"):
            if self._outdated():
                self._migrate()
            missing = self._missing_tables()
            for table in missing:
                self._create(table, table)
        if missing:
            log.info("created mart tables (schema version %d): %s", SCHEMA_VERSION, ", ".join(missing))
        return missing

    def _outdated(self) -> bool:
        """True when the mart holds tables of an older schema version (version 1 lacks ``rev_key``)."""
        present = self.conn.tables()
        if "artists" not in present:
            return False
        return "rev_key" not in self._columns("artists") or "resolved_at" not in self._columns("artist_requests")

    def _columns(self, table: str) -> set[str]:
        if table not in self.conn.tables():
            return {"rev_key", "resolved_at"}      # created from this version's DDL when missing
        if self.conn.dialect == "sqlite":
            return {str(row[1]) for row in self.conn.query(f"PRAGMA table_info({table})")}
        return {str(name) for (name,) in self.conn.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() "
            "AND table_name = ?", (table,))}

    def _migrate(self) -> None:
        """``mart.migrate.migrate`` over a DB-API connection of this process (the lock is held)."""
        from mart import migrate, serving

        conn = serving.connect(self.target.url, self.target.user, self.target.password, timeout=600)
        try:
            steps = migrate.migrate(conn)
        finally:
            conn.close()
        log.info("migrated the mart at %s to schema version %d: %s", self.target.shown_url, SCHEMA_VERSION,
                 "; ".join(steps) or "nothing to do")

    def _missing_tables(self) -> list[str]:
        present = self.conn.tables()
        return [table for table in ALL_TABLES if table not in present]

    def _require_schema(self) -> None:
        missing = self._missing_tables()
        if len(missing) == len(ALL_TABLES):
            raise MartError(f"no mart at {self.target.shown_url}: publish first")
        if missing:
            raise MartError(f"the mart at {self.target.shown_url} lacks the tables {', '.join(missing)}: "
                            f"publish once to create them")

    @contextmanager
    def _database_step(self, what: str, outcome: str = "the live set is unchanged") -> Iterator[None]:
        """Turn a JDBC driver or Spark error of one step into a one-line MartError, saying whose error it is.

        An SQL error (one in the Java cause chain) names the mart and its user, gives the database's
        words and advice on them; any other JVM error (a lost executor, a Python UDF's exception, S3
        refusing a read while Spark recomputes a frame) is called a Spark error, without database advice.
        Python's own exceptions pass through unchanged.
        """
        try:
            yield
        except MartError:
            raise
        except Exception as exc:
            if not is_java_error(exc):
                raise
            cause = root_cause_message(exc)
            if not is_sql_error(exc):
                raise MartError(f"{what} failed, {outcome}: {cause} (a Spark error, not the database's); "
                                f"fix the cause and run again") from None
            lowered = cause.lower()
            if "max_allowed_packet" in lowered or "packet for query is too large" in lowered:
                fix = "lower mart.batch_size or raise the server's max_allowed_packet"
            elif "denied" in lowered:
                fix = "grant the mart user SELECT, INSERT, CREATE, DROP and ALTER on the mart database"
            else:
                fix = "fix the cause and run again"
            raise MartError(f"{what} failed at {self.target.shown_url} as user {self.target.user or '(none)'}, "
                            f"{outcome}: {cause}; {fix}") from None

    # -- publish lock -----------------------------------------------------------------------------------

    @contextmanager
    def _publish_lock(self, action: str) -> Iterator[None]:
        """Hold the mart-wide publish lock for one publish or rollback; MartBusy at once when it is taken."""
        if self.readonly:
            raise MartError(f"{action}: this mart connection is read-only")
        release = self._lock_mysql(action) if self.conn.dialect == "mysql" else self._lock_sqlite(action)
        try:
            yield
        finally:
            release()

    def _verify_lock(self, action: str) -> None:
        """Raise MartError unless this mart's control connection still holds the publish lock (MySQL).

        The server frees a ``GET_LOCK`` with the connection that took it: a control connection
        dropped during the staging writes (``KILL``, ``wait_timeout``, a server restart, a driver
        that reconnected) has lost it, and another publish may already hold it. An SQLite ``flock``
        lasts as long as this process keeps the lock file open: nothing to verify.
        """
        name = self._mysql_lock
        if self.conn.dialect != "mysql" or name is None:
            return
        try:
            held = self.conn.scalar("SELECT IS_USED_LOCK(?) = CONNECTION_ID()", (name,))
            reason = "this job's control connection no longer holds it"
        except Exception as exc:   # py4j: the connection itself is gone
            held, reason = None, f"this job's control connection failed: {java_message(exc)}"
        if held != 1:
            raise MartError(f"{action} stopped: lost the publish lock {name!r} on {self.target.shown_url} "
                            f"({reason}); nothing was swapped, the live set is unchanged. Run again; if it "
                            f"recurs, look for what drops the connection (KILL, the server's wait_timeout, a proxy)")

    def _busy(self, action: str, holder: str) -> MartBusy:
        return MartBusy(f"{action} refused: another publish or rollback of this mart is running ({holder}); "
                        f"wait for it to finish, then run again. Nothing was changed")

    def _lock_mysql(self, action: str) -> Callable[[], None]:
        name = mysql_lock_name(str(self.conn.scalar("SELECT DATABASE()")))
        if self.conn.scalar("SELECT GET_LOCK(?, 0)", (name,)) != 1:
            holder = self.conn.query(
                "SELECT ID, USER, HOST FROM information_schema.PROCESSLIST WHERE ID = IS_USED_LOCK(?)", (name,))
            who = (f"holder: connection {holder[0][0]} of {holder[0][1]}@{holder[0][2]}" if holder
                   else f"holder: connection {self.conn.scalar('SELECT IS_USED_LOCK(?)', (name,))}")
            raise self._busy(action, f"{who}, lock {name!r}")
        self._mysql_lock = name

        def release() -> None:
            self._mysql_lock = None
            try:
                self.conn.scalar("SELECT RELEASE_LOCK(?)", (name,))
            except Exception as exc:   # the lock dies with the connection anyway
                log.warning("could not release the publish lock %s: %s", name, java_message(exc))
        return release

    def _lock_sqlite(self, action: str) -> Callable[[], None]:
        database = self.target.sqlite_file()
        if database is None:   # a memory database: one connection, nobody else can publish to it
            return lambda: None
        path = sqlite_lock_file(database)
        handle = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "holder unknown"
            handle.close()
            raise self._busy(action, f"{holder}; lock file {path}") from None
        except BaseException:
            handle.close()
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"since {_now()} UTC, {action} by pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()

        def release() -> None:
            try:
                handle.truncate(0)   # no stale holder for the next one to read
                fcntl.flock(handle, fcntl.LOCK_UN)
            finally:
                handle.close()
        return release

    def _create(self, table: str, name: str) -> None:
        for statement in create_statements(self.conn.dialect, table, name, tag=uuid.uuid4().hex[:12]):
            self.conn.execute(statement)

    def counts(self, suffix: str = "") -> dict[str, int]:
        """Rows of each serving table of one set: live (``""``), staging or previous (missing: -1)."""
        present = self.conn.tables()
        return {table: int(self.conn.scalar(f"SELECT COUNT(*) FROM {table}{suffix}"))
                if f"{table}{suffix}" in present else -1 for table in SERVING_TABLES}

    def history(self, limit: int = 5) -> list[tuple]:
        """The latest publish_log rows, newest first."""
        return self.conn.query(
            "SELECT run_id, action, dt, published_at, artists, artist_aliases, top_tracks, related_artists, forced "
            "FROM publish_log ORDER BY published_at DESC, run_id DESC LIMIT ?", (int(limit),))

    # -- publish ----------------------------------------------------------------------------------------

    def publish(self, frames: MartFrames, dt: str, parameters: Mapping | None = None, force: bool = False,
                artists_with_vector: int | None = None, k: int | None = None) -> PublishReport:
        """Make ``frames`` the live serving tables, or raise and leave the live set as it was.

        ``artists_with_vector`` and ``k`` let the checks require exactly ``min(k, n - 1)``
        related rows for each of the ``n`` artists with a vector (none at all when ``n`` is 1).
        Without ``artists_with_vector`` the artists with a vector are taken to be the ones
        that have related rows; without ``k``, k is the largest count of related rows found.
        Holds the mart's publish lock throughout: MartBusy when another publish or rollback runs.
        """
        with self._publish_lock("publish"):
            return self._publish(frames, dt, parameters, force, artists_with_vector, k)

    def _publish(self, frames: MartFrames, dt: str, parameters: Mapping | None, force: bool,
                 artists_with_vector: int | None, k: int | None) -> PublishReport:
        run_id = f"{dt}-{_dt.datetime.now(_dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        stages: dict[str, float] = {}
        tables = {name: frame.persist(StorageLevel.MEMORY_AND_DISK) for name, frame in frames.tables().items()}
        try:
            mark = time.perf_counter()
            expected = {name: frame.count() for name, frame in tables.items()}
            stages["prepare"] = time.perf_counter() - mark
            log.info("publish %s: %s", run_id, ", ".join(f"{n} {c:,}" for n, c in expected.items()))
            self._guard(expected, force)

            mark = time.perf_counter()
            for name, frame in tables.items():
                self._stage(name, frame)
            stages["staging writes"] = time.perf_counter() - mark
        finally:
            for frame in tables.values():
                frame.unpersist()

        mark = time.perf_counter()
        self._verify_lock("publish")
        self._check(expected, artists_with_vector, k)
        stages["checks"] = time.perf_counter() - mark

        mark = time.perf_counter()
        record = dict(parameters or {}, schema_version=SCHEMA_VERSION)
        self._swap(STAGING, drop_previous=True,
                   log_row=(run_id, "publish", dt, expected, force, json.dumps(record, sort_keys=True)))
        stages["swap"] = time.perf_counter() - mark
        seconds = time.perf_counter() - started
        rows = sum(expected.values())
        log.info("published %s (dt=%s) in %.1f s (%s rows/s): %s", run_id, dt, seconds,
                 f"{rows / seconds:,.0f}" if seconds else "-",
                 ", ".join(f"{stage} {s:.1f} s" for stage, s in stages.items()))
        return PublishReport(run_id=run_id, dt=dt, counts=expected, forced=force, seconds=seconds,
                             stage_seconds=stages)

    def _guard(self, expected: Mapping[str, int], force: bool, action: str = "publish") -> None:
        live = self.counts()
        floor = 1 - self.settings.max_drop
        short = [f"{table} {expected[table]:,} < {floor:.0%} of live {live[table]:,}"
                 for table in GUARDED_TABLES if live[table] > 0 and expected[table] < floor * live[table]]
        if not short:
            return
        if force:
            log.warning("drop guard overridden (--force): %s", "; ".join(short))
            return
        raise PublishRefused(f"{action} refused: the new set is much smaller than the live one ({'; '.join(short)}; "
                             f"mart.max_drop={self.settings.max_drop}). Nothing was changed. "
                             f"If the drop is intended, run again with --force")

    def _stage(self, table: str, frame: DataFrame) -> None:
        staging = f"{table}{STAGING}"
        with self._database_step(f"creating the staging table {staging}"):
            self.conn.execute(f"DROP TABLE IF EXISTS {staging}")
            self._create(table, staging)
        # One writer for SQLite; a few parallel connections for MySQL.
        partitions = 1 if self.conn.dialect == "sqlite" else self.settings.write_partitions
        mark = time.perf_counter()
        with self._database_step(f"writing the staging table {staging}"):
            (frame.select(*COLUMNS[table]).coalesce(partitions)
             .write.format("jdbc")
             .option("url", self.target.url)
             .option("dbtable", staging)
             .option("batchsize", self.settings.batch_size)
             # Spark's default isolation level keeps autocommit off: one commit per partition, not per batch
             # (SQLite would otherwise sync once per row).
             .options(**self.target.properties())
             .mode("append")
             .save())
        log.info("wrote %s in %.1f s", staging, time.perf_counter() - mark)

    def _check(self, expected: Mapping[str, int], artists_with_vector: int | None, k: int | None) -> None:
        """Raise PublishCheckFailed unless the staging set is complete and consistent.

        One scan per table: row counts, references to artists, self relations, and
        ``min(k, n - 1)`` related rows ranked 1.. for each of the ``n`` artists with a vector
        (so no related rows at all when ``n`` is 1).
        """
        s = {table: f"{table}{STAGING}" for table in SERVING_TABLES}
        problems = []
        staged = {"artists": int(self.conn.scalar(f"SELECT COUNT(*) FROM {s['artists']}"))}
        for table, column in (("artist_aliases", "artist_id"), ("top_tracks", "artist_id")):
            rows, dangling = self.conn.query(
                f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN a.artist_id IS NULL THEN 1 ELSE 0 END), 0) "
                f"FROM {s[table]} t LEFT JOIN {s['artists']} a ON a.artist_id = t.{column}")[0]
            staged[table] = int(rows)
            if int(dangling):
                problems.append(f"{int(dangling):,} rows of {table}.{column} name no artist of the new set")
        rows, no_artist, no_related, selfish = self.conn.query(
            f"SELECT COUNT(*), "
            f"COALESCE(SUM(CASE WHEN a.artist_id IS NULL THEN 1 ELSE 0 END), 0), "
            f"COALESCE(SUM(CASE WHEN b.artist_id IS NULL THEN 1 ELSE 0 END), 0), "
            f"COALESCE(SUM(CASE WHEN r.artist_id = r.related_id THEN 1 ELSE 0 END), 0) "
            f"FROM {s['related_artists']} r LEFT JOIN {s['artists']} a ON a.artist_id = r.artist_id "
            f"LEFT JOIN {s['artists']} b ON b.artist_id = r.related_id")[0]
        staged["related_artists"] = int(rows)
        for bad, column in ((no_artist, "artist_id"), (no_related, "related_id")):
            if int(bad):
                problems.append(f"{int(bad):,} rows of related_artists.{column} name no artist of the new set")
        if int(selfish):
            problems.append(f"{int(selfish):,} artists are related to themselves")
        for table, rows in expected.items():
            if staged[table] != rows:
                problems.append(f"{s[table]} holds {staged[table]:,} rows, {rows:,} were written")

        per_artist_sql = (f"SELECT artist_id, COUNT(*) AS c, MIN(`rank`) AS lo, MAX(`rank`) AS hi "
                          f"FROM {s['related_artists']} GROUP BY artist_id")
        if k is None:   # no expectation given: every artist must have as many as the most complete one
            k = int(self.conn.scalar(f"SELECT MAX(c) FROM ({per_artist_sql}) x") or 0)
        with_related = int(self.conn.scalar(f"SELECT COUNT(*) FROM ({per_artist_sql}) x"))
        vectors = with_related if artists_with_vector is None else artists_with_vector
        per_artist = min(k, max(vectors - 1, 0))
        if per_artist == 0 and with_related:
            problems.append(f"{with_related:,} artists have related artists, none should "
                            f"({vectors:,} artists with a vector, k={k})")
        elif per_artist and with_related != vectors:
            problems.append(f"{with_related:,} artists have related artists, {vectors:,} have a vector")
        uneven = int(self.conn.scalar(f"SELECT COUNT(*) FROM ({per_artist_sql}) x WHERE c <> ? OR lo <> 1 OR hi <> ?",
                                      (per_artist, per_artist)))
        if uneven:
            problems.append(f"{uneven:,} artists do not have exactly {per_artist} related artists ranked "
                            f"1..{per_artist} (k={k}, {vectors:,} artists with a vector)")
        if problems:
            raise PublishCheckFailed("publish stopped, the live set is unchanged; the staging tables failed checks: "
                                     + "; ".join(problems))
        log.info("staging checks passed: %s", ", ".join(f"{t} {c:,}" for t, c in staged.items()))

    # -- swap and rollback ------------------------------------------------------------------------------

    def _swap(self, incoming: str, drop_previous: bool, log_row: tuple) -> None:
        """Make the ``incoming`` set live and the live set previous, in one step, and log it.

        With ``drop_previous`` the old previous set is dropped first (a publish); without, it is
        the incoming set and the two trade places (a rollback). On MySQL the publish lock is
        verified first (MartError, nothing swapped, when it was lost).
        """
        renames = []
        for table in SERVING_TABLES:
            if drop_previous:
                renames += [(table, f"{table}{PREVIOUS}"), (f"{table}{incoming}", table)]
            else:
                renames += [(table, f"{table}{SWAP}"), (f"{table}{incoming}", table),
                            (f"{table}{SWAP}", f"{table}{incoming}")]
        if self.conn.dialect == "mysql":
            self._verify_lock(log_row[1])
            self.conn.execute(f"SET SESSION lock_wait_timeout = {int(self.settings.lock_wait_seconds)}")
            retired = [f"{t}{RETIRED}" for t in SERVING_TABLES]
            if drop_previous:
                # The previous set is retired by the same statement and dropped only after it:
                # a swap that fails keeps all three sets.
                with self._database_step("dropping the retired tables before the swap"):
                    self.conn.execute("DROP TABLE IF EXISTS " + ", ".join(retired))
                present = self.conn.tables()
                renames = [(f"{t}{PREVIOUS}", f"{t}{RETIRED}") for t in SERVING_TABLES
                           if f"{t}{PREVIOUS}" in present] + renames
            # One statement: readers see the old set or the new one, never a mix or a missing table.
            self._rename("RENAME TABLE " + ", ".join(f"{old} TO {new}" for old, new in renames), log_row[1])
            # Not in the RENAME's atomic step (MySQL DDL commits on its own): a failure here leaves
            # the new set live without its publish_log row.
            with self._database_step("writing the publish_log row", "the new set IS live (swap done)"):
                self._log(*log_row)
            if drop_previous:
                try:
                    self.conn.execute("DROP TABLE IF EXISTS " + ", ".join(retired))
                except Exception as exc:   # harmless leftovers: the next publish drops them
                    log.warning("could not drop %s: %s", ", ".join(retired), java_message(exc))
        else:
            with self._database_step("the swap"), self.conn.transaction():
                if drop_previous:
                    for table in SERVING_TABLES:
                        self.conn.execute(f"DROP TABLE IF EXISTS {table}{PREVIOUS}")
                for old, new in renames:
                    self.conn.execute(f"ALTER TABLE {old} RENAME TO {new}")
                self._log(*log_row)

    def _rename(self, statement: str, action: str) -> None:
        """Run the swap's ``RENAME TABLE`` waiting at most ``lock_wait_seconds`` per attempt for readers.

        While RENAME waits for a reader's metadata lock, every new lookup of those tables queues
        behind it: a short wait bounds that queue. A lock wait timeout is retried after a pause
        (0.5 s, 1 s, 2 s, ...) in which lookups run freely, up to ``lock_attempts`` times; the
        statement is atomic, so a swap that never got the lock leaves the live set as it was.
        """
        wait, attempts = self.settings.lock_wait_seconds, self.settings.lock_attempts
        for attempt in range(1, attempts + 1):
            try:
                self.conn.execute(statement)
                return
            except Exception as exc:  # py4j: e.g. a lock wait timeout behind a long-running reader
                message = java_message(exc)
                if attempt == attempts or "lock wait timeout" not in message.lower():
                    raise MartError(f"the swap did not happen, the live set is unchanged: {message} (attempt "
                                    f"{attempt} of mart.lock_attempts={attempts}, each waiting at most "
                                    f"mart.lock_wait_seconds={wait} s for readers)") from None
            pause = 0.5 * 2 ** (attempt - 1)
            log.warning("the swap waited %d s for a reader of the live tables (attempt %d of %d): retrying in %.1f s",
                        wait, attempt, attempts, pause)
            time.sleep(pause)
            self._verify_lock(action)

    def _log(self, run_id: str, action: str, dt: str | None, counts: Mapping[str, int], forced: bool,
             parameters: str) -> None:
        self.conn.execute(
            "INSERT INTO publish_log (run_id, action, dt, published_at, artists, artist_aliases, top_tracks, "
            "related_artists, forced, parameters) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, action, dt, _now(), *(int(counts[t]) for t in SERVING_TABLES), bool(forced), parameters))

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
            raise MartError("nothing to roll back to: the mart holds no previous set "
                            f"(missing {', '.join(t + PREVIOUS for t in missing)})")
        self._guard(previous, force, action="rollback")
        started = time.perf_counter()
        # Each publish_log row names the dt it made live: the previous set is the one before the latest.
        restored = self.conn.query("SELECT dt FROM publish_log ORDER BY published_at DESC, run_id DESC LIMIT 2")
        dt = str(restored[1][0]) if len(restored) > 1 and restored[1][0] is not None else None
        run_id = f"rollback-{_dt.datetime.now(_dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        self._swap(PREVIOUS, drop_previous=False,
                   log_row=(run_id, "rollback", dt, previous, False, json.dumps({"restored_dt": dt})))
        seconds = time.perf_counter() - started
        log.info("rolled back to the previous set (dt=%s) in %.2f s: %s", dt, seconds,
                 ", ".join(f"{t} {c:,}" for t, c in previous.items()))
        return PublishReport(run_id=run_id, dt=dt or "", counts=previous, forced=False, seconds=seconds)
