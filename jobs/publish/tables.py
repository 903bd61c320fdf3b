"""The mart's tables as the publish needs them (see the protocol in ``jobs/publish/mart.py``):
created when missing and migrated when outdated, both under the publish lock, or required as they are.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

from jobs.common.errors import MartError
from jobs.common.jdbc import MartConnection, MartTarget
from mart.schema import ALL_TABLES, PREVIOUS, SCHEMA_VERSION, create_statements, index_statements

log = logging.getLogger("jobs.publish.mart")  # the publish's log lines keep one logger name


def ensure_schema(
    conn: MartConnection, target: MartTarget, publish_lock: Callable[[str], AbstractContextManager]
) -> list[str]:
    """Bring a mart of an older schema version to this one in place (``mart.migrate``, every row
    kept), then create the mart tables that are missing (empty); returns the missing tables' names.

    Either way ``publish_lock`` is taken (MartBusy at once when another publish or rollback
    holds it) and what is to do is looked up again under it, so two first publishes never both
    create a table or migrate.
    """
    if conn.dialect == "sqlite":
        # Readers keep reading while the job writes, and see the swap as one commit.
        conn.query("PRAGMA journal_mode=WAL")
    if not missing_tables(conn) and not outdated(conn):
        return []
    with publish_lock("creating the mart tables"):
        if outdated(conn):
            migrate_mart(target)
        missing = missing_tables(conn)
        for table in missing:
            create(conn, table, table)
    if missing:
        log.info("created mart tables (schema version %d): %s", SCHEMA_VERSION, ", ".join(missing))
    return missing


def outdated(conn: MartConnection) -> bool:
    """True when the mart holds tables of an older schema version (version 1 lacks ``rev_key``, version 2
    ``artist_requests.added_by``, version 3 ``related_artists.reason``, live or previous)."""
    present = conn.tables()
    if "artists" not in present:
        return False
    requests = _columns(conn, present, "artist_requests")
    related = ("related_artists", f"related_artists{PREVIOUS}")
    reasons = all("reason" in _columns(conn, present, name) for name in related)
    return (
        "rev_key" not in _columns(conn, present, "artists")
        or "resolved_at" not in requests
        or "added_by" not in requests
        or not reasons
    )


def _columns(conn: MartConnection, present: set[str], table: str) -> set[str]:
    if table not in present:
        return {"rev_key", "resolved_at", "added_by", "reason"}  # created from this version's DDL when missing
    return conn.columns(table)


def migrate_mart(target: MartTarget) -> None:
    """``mart.migrate.migrate`` over a DB-API connection of this process (the lock is held)."""
    from mart import migrate, serving

    conn = serving.connect(target.url, target.user, target.password, timeout=600)
    try:
        steps = migrate.migrate(conn)
    finally:
        conn.close()
    log.info(
        "migrated the mart at %s to schema version %d: %s",
        target.shown_url,
        SCHEMA_VERSION,
        "; ".join(steps) or "nothing to do",
    )


def missing_tables(conn: MartConnection) -> list[str]:
    present = conn.tables()
    return [table for table in ALL_TABLES if table not in present]


def require_schema(conn: MartConnection, target: MartTarget) -> None:
    """Raise MartError unless the mart holds every table (a read-only mart changes nothing)."""
    missing = missing_tables(conn)
    if len(missing) == len(ALL_TABLES):
        raise MartError(f"no mart at {target.shown_url}: publish first")
    if missing:
        raise MartError(
            f"the mart at {target.shown_url} lacks the tables {', '.join(missing)}: publish once to create them"
        )


def create(conn: MartConnection, table: str, name: str, secondary: bool = True) -> str:
    """Create mart table ``table`` under ``name``, its index names tagged to be unique; returns the tag.

    Without ``secondary`` (MySQL) only the primary key is made: :func:`add_indexes` adds the others.
    """
    tag = uuid.uuid4().hex[:12]
    for statement in create_statements(conn.dialect, table, name, tag=tag, secondary=secondary):
        conn.execute(statement)
    return tag


def add_indexes(conn: MartConnection, table: str, name: str, tag: str) -> None:
    """Add the secondary indexes of ``table``'s DDL to ``name``, made by ``create(..., secondary=False)``."""
    for statement in index_statements(conn.dialect, table, name, tag=tag):
        conn.execute(statement)


def staging_writers(conn: MartConnection, configured: int) -> int:
    """Spark partitions (connections) that write one staging table: one writer for SQLite; a few
    parallel connections (``mart.write_partitions``) for MySQL."""
    return 1 if conn.dialect == "sqlite" else configured
