"""Reading the mart the way the chatbot does: DB-API connections and one-statement lookups.

Each lookup is a single SQL statement, so it reads one consistent set of
serving tables even while a publish swaps them (MySQL opens every table of a
statement under one metadata lock; SQLite reads one WAL snapshot).
Values are always bound as parameters.

Each related artist's card carries why it was chosen (``related_artists.reason``, schema version 4).
A lookup ``with_reasons=False`` reads a mart from before that column (every related artist is then
``sound``); :func:`without_reasons_if_missing` tries the one, then the other.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from mart.schema import DEFAULT_REASON, REASONS
from mart.url import MartUrl, MartUrlError
from shared.names import legacy_key, name_key

T = TypeVar("T")


# Owner-only files: an SQLite mart holds the requests users typed.
SQLITE_FILE_MODE = 0o600


def create_private_file(path: str) -> None:
    """Create the (missing) file at ``path`` readable by its owner only, with its parent folders;
    an existing file is left as it is."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE))
    except FileExistsError:
        pass


def connect(
    url: str | MartUrl,
    user: str = "",
    password: str = "",
    timeout: float = 5.0,
    readonly: bool = False,
    create: bool = True,
    ssl_ca: str = "",
    statement_seconds: float | None = None,
):
    """A DB-API connection (autocommit) for a mart URL: ``jdbc:sqlite:<file>`` or ``jdbc:mysql://...``.

    ``user`` and ``password`` win over credentials written in the URL (see :mod:`mart.url`).
    SQLite: ``readonly`` opens an existing file read-only (``mode=ro``); ``create=False`` opens an
    existing file read-write; either way a missing file raises :class:`MartUrlError` instead of
    being created. A file this call creates is readable by its owner only.
    MySQL: ``ssl_ca`` (a CA bundle file) turns TLS on and verifies the server's certificate against
    it (chain and host name); ``statement_seconds`` limits every statement of the session on the server (see
    :func:`limit_statements`).
    """
    parsed = url if isinstance(url, MartUrl) else MartUrl.parse(url)
    if parsed.dialect == "sqlite":
        return _connect_sqlite(parsed, timeout, readonly, create)
    import pymysql  # only MySQL marts need it

    user, password = parsed.credentials(user, password)
    ssl = None
    if ssl_ca:
        if not os.path.isfile(ssl_ca):
            raise MartUrlError(f"the CA bundle {ssl_ca!r} for the mart at {parsed} is not a file")
        ssl = {"ca": ssl_ca, "check_hostname": True}  # the certificate and the host name are verified
    conn = pymysql.connect(
        host=parsed.host,
        port=parsed.port,
        user=user,
        password=password,
        database=parsed.database or None,
        charset="utf8mb4",
        ssl=ssl,
        autocommit=True,
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
    )
    if statement_seconds:
        limit_statements(conn, statement_seconds)
    return conn


def _connect_sqlite(parsed: MartUrl, timeout: float, readonly: bool, create: bool):
    path = parsed.sqlite_file
    options = dict(timeout=timeout, isolation_level=None, check_same_thread=False)
    if path is None:
        return sqlite3.connect(parsed.path or ":memory:", **options)
    if readonly or not create:
        if not os.path.isfile(path):
            raise MartUrlError(f"no mart at {parsed}: the file {path} does not exist (publish first)")
        mode = "ro" if readonly else "rw"
        return sqlite3.connect(f"file:{quote(path)}?mode={mode}", uri=True, **options)
    create_private_file(path)
    return sqlite3.connect(path, **options)


def server_kind(conn) -> str:
    """``"sqlite"``, ``"mariadb"`` or ``"mysql"``: which server a connection talks to."""
    if isinstance(conn, sqlite3.Connection):
        return "sqlite"
    info = conn.get_server_info() if hasattr(conn, "get_server_info") else ""
    return "mariadb" if "mariadb" in str(info).lower() else "mysql"


def limit_statements(conn, seconds: float) -> str:
    """Make the server stop any statement of this session after ``seconds``: MariaDB's
    ``max_statement_time`` (every statement), MySQL's ``MAX_EXECUTION_TIME`` (read-only SELECTs,
    in milliseconds; a server too old for it is left unlimited). Returns the server kind; SQLite
    connections are left as they are."""
    kind = server_kind(conn)
    cursor = conn.cursor() if kind != "sqlite" else None
    try:
        if kind == "mariadb":
            cursor.execute("SET SESSION max_statement_time = %s", (float(seconds),))
        elif kind == "mysql":
            try:
                cursor.execute("SET SESSION MAX_EXECUTION_TIME = %s", (max(1, int(seconds * 1000)),))
            except Exception as exc:  # MySQL before 5.7.8 has no such variable (1193): no server-side limit
                if not (exc.args and exc.args[0] == 1193):
                    raise
                kind = "mysql (no statement limit)"
    finally:
        if cursor is not None:
            cursor.close()
    return kind


def _sql(conn, sql: str) -> str:
    """``?`` placeholders in the connection's own parameter style."""
    return sql if isinstance(conn, sqlite3.Connection) else sql.replace("?", "%s")


class Transaction:
    """Statements of one transaction (:func:`in_transaction`), ``?`` placeholders, values bound."""

    def __init__(self, conn, cursor):
        self._conn, self._cursor = conn, cursor
        self.dialect = "sqlite" if isinstance(conn, sqlite3.Connection) else "mysql"

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        self._cursor.execute(_sql(self._conn, sql), tuple(params))
        return list(self._cursor.fetchall())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the rows it changed."""
        self._cursor.execute(_sql(self._conn, sql), tuple(params))
        return int(self._cursor.rowcount or 0)


def in_transaction(conn, work: Callable[[Transaction], T]) -> T:
    """``work(transaction)`` in one transaction: committed when it returns, rolled back when it raises.
    SQLite takes its write lock at the start (``BEGIN IMMEDIATE``), so reads and writes of ``work``
    see one state."""
    cursor = conn.cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE" if isinstance(conn, sqlite3.Connection) else "BEGIN")
        result = work(Transaction(conn, cursor))
        cursor.execute("COMMIT")
        return result
    except BaseException:
        try:
            cursor.execute("ROLLBACK")
        except Exception:  # the connection itself failed: the caller closes it
            pass
        raise
    finally:
        cursor.close()


def execute_together(conn, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
    """Run the statements in one transaction (one commit); returns the rows each changed. A statement
    given as ``None`` parameters is skipped when the statement before it changed no row."""

    def run(transaction: Transaction) -> list[int]:
        counts: list[int] = []
        for sql, params in statements:
            skipped = params is None or (counts and not counts[-1])
            counts.append(0 if skipped else transaction.execute(sql, params))
        return counts

    return in_transaction(conn, run)


def fetch_all(conn, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    cursor = conn.cursor()
    try:
        if params:
            cursor.execute(_sql(conn, sql), tuple(params))
        else:  # no parameters: the text is sent as it is (pymysql would otherwise read % as a placeholder)
            cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


@dataclass
class Track:
    rank: int
    name: str
    album_name: str | None
    image_url: str | None = None


@dataclass
class ArtistCard:
    artist_id: str
    name: str | None  # None: the related artist is missing from artists (never, after a checked publish)
    image_url: str | None
    spotify_url: str | None
    distance: float | None  # None for the artist asked about
    tracks: list[Track] = field(default_factory=list)
    reason: str | None = None  # a related artist's: one of mart.schema.REASONS; None for the artist asked about


# Which artist a lookup answers: the longest candidate key that matches (name keys and alias keys;
# its own name before an alias, then the most popular). {keys} is one placeholder per candidate key.
MATCH_BY_KEYS = """
  SELECT artist_id FROM (
    SELECT artist_id, name_key AS k, 0 AS pref, popularity FROM artists WHERE name_key IN ({keys})
    UNION ALL
    SELECT l.artist_id, l.alias_key AS k, 1 AS pref, a.popularity FROM artist_aliases l
    JOIN artists a ON a.artist_id = l.artist_id WHERE l.alias_key IN ({keys})
  ) candidates
  ORDER BY {length}(k) DESC, pref, popularity DESC, artist_id
  LIMIT 1
"""
MATCH_BY_ID = "SELECT artist_id FROM artists WHERE artist_id = ?"

# The matched artist, its related artists by rank, and each one's best top tracks: one statement,
# one consistent read.
LOOKUP_SQL = """
WITH matched AS ({matched}), cards AS (
  SELECT 0 AS slot, artist_id, NULL AS distance, NULL AS reason FROM matched
  UNION ALL
  SELECT r.`rank` AS slot, r.related_id AS artist_id, r.distance, {reason} AS reason FROM related_artists r
  JOIN matched m ON r.artist_id = m.artist_id
)
SELECT c.slot, c.artist_id, a.name, a.image_url, a.spotify_url, c.distance, c.reason, t.`rank`, t.name,
       t.album_name, t.image_url
FROM cards c
LEFT JOIN artists a ON a.artist_id = c.artist_id
LEFT JOIN top_tracks t ON t.artist_id = c.artist_id AND t.`rank` <= ?
ORDER BY c.slot, t.`rank`
"""

MAX_CANDIDATES = 40


def _is_sqlite(conn) -> bool:
    return isinstance(conn, sqlite3.Connection)


def reason_of(value) -> str:
    """A related artist's reason as read: one of ``REASONS``; anything else (never, after a checked publish)
    is taken for ``sound``."""
    return value if value in REASONS else DEFAULT_REASON


def _cards(rows) -> list[ArtistCard]:
    cards: dict[int, ArtistCard] = {}
    for slot, artist_id, name, image, url, distance, reason, rank, track, album, track_image in rows:
        card = cards.get(slot)
        if card is None:
            card = cards[slot] = ArtistCard(
                artist_id,
                name,
                image,
                url,
                None if distance is None else float(distance),
                reason=None if slot == 0 else reason_of(reason),
            )
        if rank is not None:
            card.tracks.append(Track(int(rank), track, album, track_image))
    return [cards[slot] for slot in sorted(cards)]


def _lookup_sql(matched: str, with_reasons: bool) -> str:
    """The lookup statement; without reasons (a mart before schema version 4) every related artist is sound."""
    return LOOKUP_SQL.format(matched=matched, reason="r.reason" if with_reasons else f"'{DEFAULT_REASON}'")


def is_missing_column(exc: BaseException) -> bool:
    """True for a database's "no such column" error (SQLite; MySQL and MariaDB's 1054)."""
    if isinstance(exc, sqlite3.OperationalError):
        return "no such column" in str(exc)
    return bool(exc.args) and exc.args[0] == 1054


def without_reasons_if_missing(read: Callable[[bool], T]) -> T:
    """``read(True)``, or ``read(False)`` when the mart's ``related_artists`` has no ``reason`` column yet."""
    try:
        return read(True)
    except Exception as exc:  # only a missing column is answered here; anything else goes on up
        if not is_missing_column(exc):
            raise
    return read(False)


def find_artist_keys(conn, keys: Sequence[str], tracks: int = 3, with_reasons: bool = True) -> list[ArtistCard]:
    """The cards for the artist the longest of ``keys`` names (name keys or alias keys): the artist
    first, then its related artists; ``[]`` when none matches. At most ``MAX_CANDIDATES`` keys."""
    keys = list(dict.fromkeys(k for k in keys if k))[:MAX_CANDIDATES]
    if not keys:
        return []
    matched = MATCH_BY_KEYS.format(
        keys=", ".join("?" * len(keys)), length="LENGTH" if _is_sqlite(conn) else "CHAR_LENGTH"
    )
    return _cards(fetch_all(conn, _lookup_sql(matched, with_reasons), (*keys, *keys, int(tracks))))


def find_artist(conn, text: str, tracks: int = 3) -> list[ArtistCard]:
    """The cards for a typed name: the artist first, then its related artists; ``[]`` when nothing matches.

    The name's key is looked up, and its schema version 1 key too (a mart not yet published again
    since its migration still holds those). A mart of any schema version answers.
    """
    keys = [name_key(text), legacy_key(text)]
    return without_reasons_if_missing(lambda with_reasons: find_artist_keys(conn, keys, tracks, with_reasons))


def find_artist_by_id(conn, artist_id: str, tracks: int = 3, with_reasons: bool = True) -> list[ArtistCard]:
    """The cards for the artist with this id, then its related artists; ``[]`` when there is none."""
    return _cards(fetch_all(conn, _lookup_sql(MATCH_BY_ID, with_reasons), (artist_id, int(tracks))))


def popular_refs(conn, limit: int) -> list[tuple[str, str]]:
    """``(artist_id, name)`` of the ``limit`` most popular artists that have related artists."""
    return [
        (str(artist_id), str(name))
        for artist_id, name in fetch_all(
            conn,
            "SELECT a.artist_id, a.name FROM artists a WHERE EXISTS (SELECT 1 FROM related_artists r "
            "WHERE r.artist_id = a.artist_id) ORDER BY a.popularity DESC, a.artist_id LIMIT ?",
            (int(limit),),
        )
    ]


def popular_artists(conn, limit: int) -> list[str]:
    """Names of the ``limit`` most popular artists that have related artists."""
    return [name for _, name in popular_refs(conn, limit)]


def describe_popular(conn, limit: int) -> list[str]:
    """One line per popular artist: its top tracks, then its related artists with distances.

    An artist whose name finds nothing (a name without a usable key, or a publish swapping
    the tables between the two statements) is left out.
    """
    lines = []
    for name in popular_artists(conn, limit):
        cards = find_artist(conn, name)
        if not cards:
            continue
        artist, *related = cards
        tracks = ", ".join(track.name for track in artist.tracks)
        lines.append(
            f"{artist.name} [{tracks}]  ->  " + ", ".join(f"{card.name} ({card.distance:.3f})" for card in related)
        )
    return lines
