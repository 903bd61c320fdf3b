"""The mart, as the chatbot reads it (and the one table it writes, artist_requests).

One connection per Lambda container, opened on first use and reused by warm invocations. A
reused connection that has gone away (server restart, idle timeout, killed) is re-opened and
the statement tried once more; a slow or unreachable database becomes :class:`MartUnavailable`
after ``DB_TIMEOUT_SECONDS``. Every statement binds its values as parameters.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from datetime import datetime, timezone
from typing import Callable, TypeVar

from chatbot_lambda import matching
from chatbot_lambda.budget import KEEP_SECONDS, Deadline
from chatbot_lambda.settings import Settings
from mart import serving
from mart.names import name_key

log = logging.getLogger(__name__)
T = TypeVar("T")

POPULAR_CACHE_SECONDS = 300.0
CANDIDATES = 300

# Candidates share at least one piece with the typed key (matching.like_patterns); those sharing the
# most pieces (matching.overlap_patterns) come first, then those closest in length, then the most popular.
_SUGGEST_SQL = """
SELECT name, name_key FROM (
  SELECT a.name, a.name_key, a.popularity, {artists_hits} AS hits FROM artists a WHERE {artists}
  UNION ALL
  SELECT a.name, l.alias_key AS name_key, a.popularity, {aliases_hits} AS hits FROM artist_aliases l
  JOIN artists a ON a.artist_id = l.artist_id WHERE {aliases}
) candidates
ORDER BY hits DESC, ABS({length}(name_key) - ?), popularity DESC, name
LIMIT ?
"""

_UPSERT_REQUEST = {
    "mysql": """
INSERT INTO artist_requests (name_key, name, spotify_artist_id, first_requested_at, last_requested_at, times)
VALUES (?, ?, ?, ?, ?, 1)
ON DUPLICATE KEY UPDATE name = VALUES(name),
  spotify_artist_id = COALESCE(VALUES(spotify_artist_id), spotify_artist_id),
  last_requested_at = VALUES(last_requested_at), times = times + 1
""",
    "sqlite": """
INSERT INTO artist_requests (name_key, name, spotify_artist_id, first_requested_at, last_requested_at, times)
VALUES (?, ?, ?, ?, ?, 1)
ON CONFLICT (name_key) DO UPDATE SET name = excluded.name,
  spotify_artist_id = COALESCE(excluded.spotify_artist_id, artist_requests.spotify_artist_id),
  last_requested_at = excluded.last_requested_at, times = artist_requests.times + 1
""",
}


class MartUnavailable(RuntimeError):
    """The mart could not answer: unreachable, too slow, or without its tables."""


def _database_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sqlite3.Error]
    try:
        import pymysql
        errors.append(pymysql.err.Error)
    except ImportError:      # an SQLite-only install
        pass
    return tuple(errors)


class MartRepository:
    """Lookups, suggestions and request records against the mart named by the settings."""

    def __init__(self, settings: Settings, clock=time.monotonic):
        self.settings = settings
        self.dialect = "sqlite" if settings.mart_url.startswith("jdbc:sqlite:") else "mysql"
        self._clock = clock
        self._conn = None
        self._errors = _database_errors()
        self._popular: tuple[float, list[str]] | None = None
        self.connections_opened = 0

    # -- what the chatbot asks ---------------------------------------------------------------------------

    def find_artist(self, text: str, deadline: Deadline | None = None) -> list[serving.ArtistCard]:
        """The artist a typed name (or alias) names, then its related artists; ``[]`` when none."""
        cards = self._run(lambda conn: serving.find_artist(conn, text, self.settings.tracks_per_card), deadline)
        return cards if cards and cards[0].name else []

    def suggestions(self, text: str, limit: int = 5, deadline: Deadline | None = None) -> list[str]:
        """Names in the mart closest to ``text`` (for a name that matched nothing), best first."""
        key = name_key(text)
        patterns, overlap = matching.like_patterns(key), matching.overlap_patterns(key)
        if not patterns:
            return []
        like = "{col} LIKE ? ESCAPE '" + matching.LIKE_ESCAPE + "'"
        any_of, count = " OR ".join([like] * len(patterns)), " + ".join(f"({like})" for _ in overlap)
        sql = _SUGGEST_SQL.format(artists_hits=count.format(col="a.name_key"), artists=any_of.format(col="a.name_key"),
                                  aliases_hits=count.format(col="l.alias_key"), aliases=any_of.format(col="l.alias_key"),
                                  length="CHAR_LENGTH" if self.dialect == "mysql" else "LENGTH")
        params = (*overlap, *patterns, *overlap, *patterns, len(key), CANDIDATES)
        rows = self._run(lambda conn: serving.fetch_all(conn, sql, params), deadline)
        return matching.rank(key, [(str(name), str(k)) for name, k in rows], limit)

    def popular(self, limit: int = 5, deadline: Deadline | None = None) -> list[str]:
        """The most popular artist names (kept for a few minutes per container)."""
        now = self._clock()
        if self._popular is None or now - self._popular[0] > POPULAR_CACHE_SECONDS:
            self._popular = (now, self._run(lambda conn: serving.popular_artists(conn, 10), deadline))
        return self._popular[1][:limit]

    def record_request(self, name: str, spotify_artist_id: str | None, deadline: Deadline | None = None) -> None:
        """Count one request for an artist the mart lacks, so the next batch ingests it (never retried)."""
        key = name_key(name)
        if not key:
            return
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        stamp = now if self.dialect == "mysql" else now.isoformat(sep=" ", timespec="milliseconds")
        params = (key, name[:512], spotify_artist_id, stamp, stamp)
        self._run(lambda conn: serving.fetch_all(conn, _UPSERT_REQUEST[self.dialect], params), deadline,
                  retry=False)

    # -- the connection ----------------------------------------------------------------------------------

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except self._errors:
                pass
            self._conn = None

    def _connect(self):
        s = self.settings
        try:
            conn = serving.connect(s.mart_url, s.mart_user, s.mart_password, timeout=s.db_timeout)
        except self._errors as exc:
            raise MartUnavailable(f"cannot connect to the mart at {shown_url(s.mart_url)}: {exc}") from None
        self.connections_opened += 1
        return conn

    def _time_needed(self) -> float:
        """The longest a statement may take: a query, plus connecting first when there is no connection."""
        return self.settings.db_timeout * (1 if self._conn is not None else 2) + KEEP_SECONDS

    def _run(self, statement: Callable[[object], T], deadline: Deadline | None = None, retry: bool = True) -> T:
        """Run ``statement(conn)``; a reused connection that fails fast is re-opened and tried once more.

        With a ``deadline``, a statement that might not finish in the time left is not started.
        """
        if deadline is not None and deadline.remaining() < self._time_needed():
            raise MartUnavailable(f"skipped: {deadline.remaining():.2f} s left of the time budget")
        reused = self._conn is not None
        if self._conn is None:
            self._conn = self._connect()
        started = self._clock()
        try:
            return statement(self._conn)
        except self._errors as exc:
            self.close()
            quick = self._clock() - started < self.settings.db_timeout / 2
            in_time = deadline is None or deadline.remaining() >= self._time_needed()
            if not (retry and reused and quick and in_time and _gone_away(exc)):
                raise MartUnavailable(f"the mart query failed: {_describe(exc)}") from None
            log.info("the mart connection had gone away (%s): re-opening it", _describe(exc))
        self._conn = self._connect()
        try:
            return statement(self._conn)
        except self._errors as exc:
            self.close()
            raise MartUnavailable(f"the mart query failed after re-connecting: {_describe(exc)}") from None


def shown_url(url: str) -> str:
    """A mart URL fit for logs: no query string, no user or password."""
    base = url.split("?", 1)[0]
    return re.sub(r"//[^/@]*@", "//", base)


def _gone_away(exc: BaseException) -> bool:
    """A connection-level failure (worth one re-connect), not an error in the statement itself."""
    if isinstance(exc, sqlite3.Error):
        return isinstance(exc, sqlite3.ProgrammingError)       # e.g. a closed connection object
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    return type(exc).__name__ == "InterfaceError" or code in (0, 2006, 2013, 2055, 4031, 1927)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
