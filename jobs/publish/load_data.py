"""The staging writes of a MySQL/MariaDB mart by ``LOAD DATA LOCAL INFILE`` streamed from Spark's
Python workers (``load_stream.py``), and the choice between that path and Spark's JDBC writer.

Each Spark task opens one PyMySQL connection, streams its rows (in primary-key order, range
partitioned) in one ``LOAD DATA LOCAL`` statement and commits once: a task that dies rolls back
on disconnect. ``LOCAL`` implies ``IGNORE`` (a duplicate key is skipped, a bad value becomes a
warning), so a task fails unless the server reports no warning and as many affected rows as rows
sent. A task's database error reaches the driver as ``MART-SQL <errno>: <message>``, which
``steps.database_step`` reports like a JDBC driver's error (with the same advice).

``mart.staging_load``: ``"jdbc"`` keeps Spark's JDBC writer; ``"load_data"`` requires this path;
``"auto"`` (the default) takes it when the server allows ``local_infile`` and the URL's TLS
settings map to PyMySQL's, else the JDBC writer, saying which and why in one log line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial

import pyarrow as pa

from jobs.common.errors import MartError
from jobs.common.jdbc import MartConnection, MartTarget
from mart.url import MartUrl

log = logging.getLogger("jobs.publish.mart")  # the publish's log lines keep one logger name

MARKER = "MART-SQL"
MARKED = re.compile(rf"{MARKER} (\d+): (.*)")
# URL parameters (lower case, substrings) that configure TLS in Connector/J or MariaDB Connector/J.
TLS_WORDS = ("ssl", "tls", "certificate", "keystore", "truststore")
OPPORTUNISTIC_TLS = {"verify_mode": "none"}  # TLS when the server offers it, unverified (Connector/J's PREFERRED)


class LoadFailed(Exception):
    """A database error inside a load task, as ``MART-SQL <errno>: <message>`` (one line)."""

    def __init__(self, errno: int, message: str):
        super().__init__(f"{MARKER} {int(errno)}: {' '.join(str(message).split())}")


def marked_error(text: str) -> tuple[int, str] | None:
    """``(errno, message)`` of a :class:`LoadFailed` found in ``text`` (a task's error as Spark shows it)."""
    match = MARKED.search(text or "")
    return (int(match.group(1)), match.group(2).strip()) if match else None


def pymysql_tls(url: MartUrl) -> tuple[dict | None, str]:
    """PyMySQL's ``ssl`` argument equal to the URL's TLS settings, and ``""``; or ``None`` and why they
    cannot be mapped (anything beyond off or Connector/J's unverified ``PREFERRED``)."""
    given = {k.lower(): v for k, v in url.params if any(word in k.lower() for word in TLS_WORDS)}
    off = given.get("sslmode", "").upper() == "DISABLED" or given.get("usessl", "").lower() == "false"
    if off and set(given) <= {"sslmode", "usessl"}:
        return None, ""
    if not given:  # Connector/J prefers TLS by default; MariaDB Connector/J uses none by default
        return (dict(OPPORTUNISTIC_TLS) if url.scheme == "mysql" else None), ""
    if set(given) == {"sslmode"} and given["sslmode"].upper() == "PREFERRED":
        return dict(OPPORTUNISTIC_TLS), ""
    shown = ", ".join(f"{k}={v}" for k, v in url.params if k.lower() in given)
    return None, f"mart.url sets TLS ({shown}), which the LOAD DATA path does not map"


@dataclass(frozen=True)
class LoadTarget:
    """What a task needs to open its connection (pickled into the task; the password is never shown)."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    ssl: dict | None
    max_packet: int

    def connect(self):
        from jobs.publish.load_stream import StreamConnection

        conn = StreamConnection(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.database or None,
            charset="utf8mb4",
            ssl=self.ssl,
            autocommit=False,
            connect_timeout=10,
            max_allowed_packet=self.max_packet,
        )
        return conn


def staging_loader(conn: MartConnection, target: MartTarget, mode: str) -> LoadTarget | None:
    """The LOAD DATA target when the staging writes take that path, ``None`` for the JDBC writer;
    logs which and why. MartError when ``mode`` is ``"load_data"`` and the path is not available."""
    if conn.dialect == "sqlite":
        log.info("staging writes: Spark's JDBC writer (an SQLite mart)")
        return None
    if mode == "jdbc":
        log.info('staging writes: Spark\'s JDBC writer (mart.staging_load = "jdbc")')
        return None
    ssl, problem = pymysql_tls(target.parsed)
    local_infile, max_packet = 0, 0
    if not problem:
        probe = conn.query("SELECT @@local_infile, @@max_allowed_packet")[0]
        local_infile, max_packet = (int(str(v or 0)) for v in probe)  # JDBC may answer BigInteger
        if not local_infile:
            problem = "the server has local_infile off"
    if problem:
        if mode == "load_data":
            raise MartError(
                f'mart.staging_load = "load_data" cannot be used with the mart at {target.shown_url}: '
                f'{problem}; set mart.staging_load to "auto" or "jdbc"'
            )
        log.info("staging writes: Spark's JDBC writer (%s)", problem)
        return None
    log.info(
        "staging writes: LOAD DATA LOCAL INFILE streamed from the Spark tasks (mart.staging_load = %r, "
        "the server allows local_infile)",
        mode,
    )
    url = target.parsed
    user, password = url.credentials(target.user, target.password)
    return LoadTarget(
        host=url.host,
        port=url.port,
        user=user,
        password=password,
        database=url.database,
        ssl=ssl,
        max_packet=max_packet or 16 << 20,
    )


def load_frame(
    target: LoadTarget, staging: str, columns: tuple[str, ...], key: tuple[str, ...], frame, streams: int
) -> int:
    """Stream ``frame``'s ``columns`` into table ``staging`` from ``streams`` tasks, each sorted by
    ``key`` (the table's primary key); returns the rows loaded (each task verified its own)."""
    rows = (
        frame.select(*columns)
        .repartitionByRange(streams, *key)
        .sortWithinPartitions(*key)
        .mapInArrow(partial(load_partition, target, staging, columns), "rows long")
        .collect()
    )
    return sum(int(row[0]) for row in rows)


def load_partition(
    target: LoadTarget, staging: str, columns: tuple[str, ...], batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """One task: its rows in one LOAD DATA statement and one transaction; one batch with the rows sent."""
    import pymysql

    from jobs.publish.load_stream import encode_batch

    first = next(batches, None)
    sent = 0
    if first is not None:

        def chunks():
            nonlocal sent
            for batch in _chain(first, batches):
                sent += batch.num_rows
                yield encode_batch(batch)

        try:
            conn = target.connect()
            try:
                affected, warnings = conn.load(staging, columns, chunks())
                if warnings:
                    listed = conn.show_warnings()[:3]
                    shown = "; ".join(f"{level} {code}: {text}" for level, code, text in listed)
                    raise LoadFailed(
                        listed[0][1] if listed else 0, f"LOAD DATA into {staging} gave {warnings} warnings: {shown}"
                    )
                if affected != sent:
                    raise LoadFailed(
                        1062,
                        f"LOAD DATA into {staging} kept {affected:,} of {sent:,} rows "
                        f"(the server skipped duplicate keys or bad rows)",
                    )
                conn.commit()
            finally:
                _close(conn)
        except pymysql.err.MySQLError as exc:
            errno, message = (exc.args + ("",))[:2] if len(exc.args) > 1 else (0, str(exc))
            raise LoadFailed(errno if isinstance(errno, int) else 0, message) from None
    yield pa.RecordBatch.from_pydict({"rows": pa.array([sent], pa.int64())})


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _close(conn) -> None:
    """Close without masking the error that got here (an unfinished transaction rolls back)."""
    try:
        conn.close()
    except Exception:  # already closed by a broken socket
        pass
