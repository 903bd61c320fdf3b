"""Bringing a mart of schema version 1, 2 or 3 to version 4 in place, keeping every row.

Version 2 adds, to ``artists`` and ``artist_aliases`` (the live set and the ``__previous`` one a
rollback would bring back), the suggestion keys ``rev_key`` (the name key backwards) and
``initials`` (초성), each indexed; to ``artist_requests`` the columns ``spotify_name``,
``searched_at``, ``not_found_at`` and ``resolved_at``; and the table ``artist_request_users``
(distinct users of a request, as keyed hashes). Name keys themselves are recomputed by the next
publish; until then the chatbot also looks up the version 1 key of what is typed.

Version 3 adds to ``artist_requests`` the column ``added_by`` (who added the name, for the per-user
quota; ``unsigned`` for rows from before), indexed with ``first_requested_at``, and the table
``alias_confirmations`` (users' confirmations of alias offers).

Version 4 adds to ``related_artists`` (the live set and the ``__previous`` one) the column ``reason``
(``sound``, ``listeners`` or ``both``; ``sound`` for the rows there, which were chosen by sound alone),
and the table ``chat_listens`` (the known artists the chatbot answered per signed user and day). Adding
a column with a constant default changes no row: SQLite and MySQL 8 / MariaDB 10.3+ only note it.

Each step checks what is there first, so a migration that stopped half way is finished by running
it again. Works on a DB-API connection (``mart.serving.connect``): the publish job runs it under
its publish lock before anything else, ``python -m mart --migrate`` runs it by hand.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid

from mart import schema
from mart.serving import fetch_all
from shared.names import initials, rev_key

log = logging.getLogger(__name__)

INDEXED = ("artists", "artist_aliases")
KEY_COLUMN = {"artists": "name_key", "artist_aliases": "alias_key"}
ID_COLUMN = {"artists": "artist_id", "artist_aliases": "alias_key"}
REQUEST_COLUMNS = {
    "spotify_name": "VARCHAR(512)",
    "searched_at": "DATETIME(3)",
    "not_found_at": "DATETIME(3)",
    "resolved_at": "DATETIME(3)",
}
_BATCH = 5000


def dialect(conn) -> str:
    return "sqlite" if isinstance(conn, sqlite3.Connection) else "mysql"


def tables(conn) -> set[str]:
    return {str(name) for (name,) in fetch_all(conn, schema.TABLES_SQL[dialect(conn)])}


def columns(conn, table: str) -> set[str]:
    sql, params, at = schema.columns_query(dialect(conn), table)
    return {str(row[at]) for row in fetch_all(conn, sql, params)}


def detect_version(conn) -> int:
    """0 when the database holds no mart, else the schema version of the mart (1 to 4)."""
    present = tables(conn)
    if "artists" not in present:
        return 0
    if (
        "rev_key" not in columns(conn, "artists")
        or "artist_request_users" not in present
        or "resolved_at" not in columns(conn, "artist_requests")
    ):
        return 1
    if "alias_confirmations" not in present or "added_by" not in columns(conn, "artist_requests"):
        return 2
    if "chat_listens" not in present or (
        "related_artists" in present and "reason" not in columns(conn, "related_artists")
    ):
        return 3
    return 4


def migrate(conn) -> list[str]:
    """Bring the mart to version 4 (nothing to do on version 4 or on an empty database); returns the
    steps done, one line each."""
    done: list[str] = []
    present = tables(conn)
    if "artists" not in present:
        return done
    for table in INDEXED:
        for name in (table, f"{table}{schema.PREVIOUS}"):
            if name in present:
                done += _index_keys(conn, table, name)
    if "artist_requests" in present:
        have = columns(conn, "artist_requests")
        for column, kind in REQUEST_COLUMNS.items():
            if column not in have:
                kind = "TEXT" if dialect(conn) == "sqlite" else kind
                fetch_all(conn, f"ALTER TABLE artist_requests ADD COLUMN {column} {kind}")
                done.append(f"artist_requests: added {column}")
        if "added_by" not in have:
            done += _add_adder(conn)
    for name in ("related_artists", f"related_artists{schema.PREVIOUS}"):
        if name in present and "reason" not in columns(conn, name):
            done += _add_reason(conn, name)
    for table in ("artist_requests", "artist_request_users", "alias_confirmations", "chat_listens"):
        if table not in present:
            for statement in schema.create_statements(dialect(conn), table, tag=uuid.uuid4().hex[:12]):
                fetch_all(conn, statement)
            done.append(f"created {table}")
    for line in done:
        log.info("mart migration: %s", line)
    return done


def _add_adder(conn) -> list[str]:
    """Add ``artist_requests.added_by`` (``unsigned`` for the rows there), indexed for the quota."""
    tag = uuid.uuid4().hex[:12]
    if dialect(conn) == "sqlite":
        fetch_all(conn, "ALTER TABLE artist_requests ADD COLUMN added_by TEXT NOT NULL DEFAULT 'unsigned'")
        fetch_all(conn, f"CREATE INDEX ix_requests_added_by_{tag} ON artist_requests (added_by, first_requested_at)")
    else:
        fetch_all(
            conn,
            "ALTER TABLE artist_requests ADD COLUMN added_by VARCHAR(32) CHARACTER SET ascii "
            "COLLATE ascii_bin NOT NULL DEFAULT 'unsigned', "
            f"ADD KEY ix_requests_added_by_{tag} (added_by, first_requested_at)",
        )
    return ["artist_requests: added added_by (indexed)"]


def _add_reason(conn, name: str) -> list[str]:
    """Add ``reason`` to ``name`` (a copy of ``related_artists``): ``sound`` for every row there."""
    if dialect(conn) == "sqlite":
        kind = "TEXT"
    else:
        kind = "VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin"
    fetch_all(conn, f"ALTER TABLE {name} ADD COLUMN reason {kind} NOT NULL DEFAULT '{schema.DEFAULT_REASON}'")
    return [f"{name}: added reason ({schema.DEFAULT_REASON} for the rows there)"]


def _index_keys(conn, table: str, name: str) -> list[str]:
    """Add and fill ``rev_key`` and ``initials`` on ``name`` (a copy of ``table``)."""
    done = []
    have = columns(conn, name)
    tag = uuid.uuid4().hex[:12]
    short = "artists" if table == "artists" else "aliases"
    for column in ("rev_key", "initials"):
        if column in have:
            continue
        if dialect(conn) == "sqlite":
            default = " NOT NULL DEFAULT ''" if column == "rev_key" else ""
            fetch_all(conn, f"ALTER TABLE {name} ADD COLUMN {column} TEXT{default}")
            fetch_all(conn, f"CREATE INDEX ix_{short}_{column}_{tag} ON {name} ({column})")
        else:
            default = " NOT NULL DEFAULT ''" if column == "rev_key" else ""
            fetch_all(
                conn,
                f"ALTER TABLE {name} ADD COLUMN {column} VARCHAR(512) COLLATE utf8mb4_bin{default}, "
                f"ADD KEY ix_{short}_{column}_{tag} ({column})",
            )
        done.append(f"{name}: added {column} (indexed)")
    filled = _fill(conn, table, name)
    if filled:
        done.append(f"{name}: keys filled for {filled:,} rows")
    return done


def _fill(conn, table: str, name: str) -> int:
    """Fill the suggestion keys of rows that have none yet (``rev_key = ''``); returns how many."""
    key, row_id = KEY_COLUMN[table], ID_COLUMN[table]
    if dialect(conn) == "sqlite":
        conn.create_function("mart_rev_key", 1, lambda k: rev_key(k or ""), deterministic=True)
        conn.create_function("mart_initials", 1, lambda k: initials(k or ""), deterministic=True)
        cursor = conn.cursor()
        cursor.execute(
            f"UPDATE {name} SET rev_key = mart_rev_key({key}), initials = mart_initials({key}) WHERE rev_key = ''"
        )
        return cursor.rowcount
    cursor = conn.cursor()
    filled = cursor.execute(f"UPDATE {name} SET rev_key = REVERSE({key}) WHERE rev_key = '' AND {key} <> ''")
    # Initials exist only for keys with Hangul syllables: those few rows are read and written back.
    rows = fetch_all(
        conn, f"SELECT {row_id}, {key} FROM {name} WHERE initials IS NULL AND {key} REGEXP ?", ("[가-힣].*[가-힣]",)
    )
    updates = [(initials(str(k)), row) for row, k in rows if initials(str(k))]
    for start in range(0, len(updates), _BATCH):
        cursor.executemany(f"UPDATE {name} SET initials = %s WHERE {row_id} = %s", updates[start : start + _BATCH])
    cursor.close()
    return int(filled or 0)
