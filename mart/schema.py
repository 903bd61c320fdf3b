"""Mart tables and their versioned DDL (``mart/ddl/<dialect>.sql``)."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

SCHEMA_VERSION = 4
DIALECTS = ("mysql", "sqlite")

# Replaced together by a publish, in one atomic swap.
SERVING_TABLES = ("artists", "artist_aliases", "top_tracks", "related_artists")
# Written by the chatbot (artist_requests and its distinct users, hashed; users' alias confirmations; the
# known artists it answered per signed user and day, chat_listens) and by publishes (publish_log); a
# publish never replaces them.
KEPT_TABLES = ("artist_requests", "artist_request_users", "alias_confirmations", "chat_listens", "publish_log")
ALL_TABLES = SERVING_TABLES + KEPT_TABLES

# Suffixes of the other sets of serving tables: the next, the last, and two that live only during a swap.
STAGING, PREVIOUS, SWAP, RETIRED = "__staging", "__previous", "__swap", "__retired"

# Column order of the serving tables, as created by the DDL (and written by the publish job).
COLUMNS = {
    "artists": (
        "artist_id",
        "name",
        "name_key",
        "image_url",
        "spotify_url",
        "genres",
        "popularity",
        "rev_key",
        "initials",
    ),
    "artist_aliases": ("alias_key", "artist_id", "rev_key", "initials"),
    "top_tracks": ("artist_id", "rank", "track_id", "name", "album_name", "image_url"),
    "related_artists": ("artist_id", "rank", "related_id", "distance", "reason"),
}

# Why a related artist was chosen (``related_artists.reason``, schema version 4): the sound alone, the
# listeners (co-listening), or both. Rows from before the column existed are ``sound``. The lake's list is
# ``jobs.common.schemas.REASONS`` (a test keeps the two equal: ``mart`` imports nothing of ``jobs``).
REASONS = ("sound", "listeners", "both")
DEFAULT_REASON = "sound"

# Widest text the MySQL schema stores per column; longer values are cut before writing.
TEXT_WIDTHS = {
    "name": 512,
    "name_key": 512,
    "alias_key": 512,
    "rev_key": 512,
    "initials": 512,
    "album_name": 512,
    "image_url": 1024,
    "spotify_url": 1024,
    "artist_id": 64,
    "track_id": 64,
    "related_id": 64,
    "reason": 16,
}

# The statement that lists the tables of the mart's database, per dialect.
TABLES_SQL = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "mysql": "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
}


def columns_query(dialect: str, table: str) -> tuple[str, tuple[str, ...], int]:
    """The statement that lists the columns of ``table`` in a mart of ``dialect``, its parameters, and
    the place of the column's name in its rows."""
    if dialect == "sqlite":
        if not re.fullmatch(r"\w+", table):
            raise ValueError(f"not a table name: {table!r}")
        return f"PRAGMA table_info({table})", (), 1
    return (
        "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?",
        (table,),
        0,
    )


_BLOCK = re.compile(r"^-- table: (\w+)\s*$", re.MULTILINE)
_TAG = re.compile(r"^[A-Za-z0-9_]+$")


@cache
def _blocks(dialect: str) -> dict[str, str]:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown mart dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
    # Read as a package resource: works from a folder and from a zip (--py-files on EMR).
    text = resources.files("mart").joinpath("ddl", f"{dialect}.sql").read_text(encoding="utf-8")
    parts = _BLOCK.split(text)[1:]
    blocks = {name: body.strip() for name, body in zip(parts[::2], parts[1::2])}
    missing = set(ALL_TABLES) - set(blocks)
    if missing:
        raise ValueError(f"mart/ddl/{dialect}.sql has no block for {', '.join(sorted(missing))}")
    return blocks


def create_statements(
    dialect: str, table: str, name: str | None = None, tag: str = "v1", secondary: bool = True
) -> list[str]:
    """The statements that create mart table ``table`` under ``name`` (default: its own name).

    ``tag`` (letters, digits, ``_``) is appended to index names so that a staging
    copy's indexes never collide with the live table's. Without ``secondary`` the table is
    created with its primary key only; :func:`index_statements` adds the rest later.
    """
    body = _body(dialect, table, name, tag)
    if not secondary:
        body = _without_keys(body)
    statements = body.split(";")
    return [statement.strip() for statement in statements if statement.strip()]


def index_statements(dialect: str, table: str, name: str | None = None, tag: str = "v1") -> list[str]:
    """The statements that add the secondary indexes of ``table``'s DDL block to a table created
    under ``name`` without them (``create_statements(..., secondary=False)``): one ``ALTER TABLE``
    for MySQL (InnoDB builds every index in one pass), none when the table has no secondary index.

    MySQL only: the SQLite DDL states its indexes as statements of their own.
    """
    if dialect != "mysql":
        raise ValueError(f"index_statements is for MySQL marts, not {dialect!r}")
    keys = [line.strip().rstrip(",") for line in _body(dialect, table, name, tag).splitlines() if _KEY.match(line)]
    return [f"ALTER TABLE {name or table} " + ", ".join(f"ADD {key}" for key in keys)] if keys else []


def primary_key(dialect: str, table: str) -> tuple[str, ...]:
    """The columns of ``table``'s primary key, in order, as its DDL block states them."""
    match = re.search(r"PRIMARY KEY \(([^)]*)\)", _body(dialect, table, None, "v1"))
    if not match:
        raise ValueError(f"mart/ddl/{dialect}.sql states no primary key for {table}")
    return tuple(column.strip().strip('`"') for column in match.group(1).split(","))


_KEY = re.compile(r"^\s*(UNIQUE\s+)?KEY\s", re.IGNORECASE)


def _body(dialect: str, table: str, name: str | None, tag: str) -> str:
    """The DDL block of ``table``, comments dropped, ``{table}`` and ``{tag}`` filled in."""
    if not _TAG.match(tag):
        raise ValueError(f"index tag {tag!r} must be letters, digits or _")
    body = _blocks(dialect)[table]
    lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).replace("{table}", name or table).replace("{tag}", tag)


def _without_keys(body: str) -> str:
    """A MySQL ``CREATE TABLE`` without its secondary ``KEY`` lines (the line before them loses its comma)."""
    lines = [line for line in body.splitlines() if not _KEY.match(line)]
    for i, line in enumerate(lines):
        if line.lstrip().startswith(")") and i and lines[i - 1].rstrip().endswith(","):
            lines[i - 1] = lines[i - 1].rstrip().rstrip(",")
    return "\n".join(lines)
