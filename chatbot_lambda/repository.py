"""The mart, as the chatbot reads it (and the one table it writes, artist_requests with its users).

One connection per Lambda container, opened on first use and reused by warm invocations. A
reused connection that has gone away (server restart, idle timeout, killed) is re-opened and
the statement tried once more; a slow or unreachable database becomes :class:`MartUnavailable`
after ``DB_TIMEOUT_SECONDS``. Every statement binds its values as parameters.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import datetime, timezone
from typing import Callable, TypeVar

from chatbot_lambda import matching
from chatbot_lambda.budget import KEEP_SECONDS, Deadline
from chatbot_lambda.settings import Settings
from mart import requests, serving, suggest
from shared.names import name_key
from mart.suggest import Candidate
from mart.url import MartUrlError, mask

log = logging.getLogger(__name__)
T = TypeVar("T")

POPULAR_CACHE_SECONDS = 300.0
SUGGESTIONS = 5


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
        self.url = settings.mart_url
        self.dialect = self.url.dialect
        self._clock = clock
        self._conn = None
        self._errors = _database_errors()
        self._popular: tuple[float, list[str]] | None = None
        self.connections_opened = 0

    # -- what the chatbot asks ---------------------------------------------------------------------------

    def find_artist(self, keys: list[str], deadline: Deadline | None = None) -> list[serving.ArtistCard]:
        """The artist the longest of ``keys`` names (name or alias), then its related artists; ``[]`` when none."""
        cards = self._run(lambda conn: serving.find_artist_keys(conn, keys, self.settings.tracks_per_card),
                          deadline)
        return cards if cards and cards[0].name else []

    def find_by_id(self, artist_id: str, deadline: Deadline | None = None) -> list[serving.ArtistCard]:
        """The artist with this id, then its related artists; ``[]`` when the mart has no such artist."""
        cards = self._run(lambda conn: serving.find_artist_by_id(conn, artist_id, self.settings.tracks_per_card),
                          deadline)
        return cards if cards and cards[0].name else []

    def suggestions(self, text: str, limit: int = SUGGESTIONS,
                    deadline: Deadline | None = None) -> tuple[list[matching.Suggestion], Candidate | None]:
        """The mart names closest to ``text`` (which matched nothing exactly), best first, and the one
        artist ``text`` names without being its name, if any (``matching.sole_match``)."""
        key = name_key(text)
        if not key:
            return [], None
        found = self._run(lambda conn: suggest.candidates(conn, key), deadline)
        return matching.rank(key, found, limit), matching.sole_match(key, found, suggest.NEIGHBOURS)

    def popular(self, limit: int = 5, deadline: Deadline | None = None) -> list[tuple[str, str]]:
        """``(artist_id, name)`` of the most popular artists (kept for a few minutes per container)."""
        now = self._clock()
        if self._popular is None or now - self._popular[0] > POPULAR_CACHE_SECONDS:
            self._popular = (now, self._run(lambda conn: serving.popular_refs(conn, 10), deadline))
        return self._popular[1][:limit]

    def record_request(self, name: str, spotify_artist_id: str | None, deadline: Deadline | None = None,
                       user_id: str = "", spotify_name: str | None = None) -> bool:
        """Count one ask for ``name`` (an artist the mart lacks), and its user among the distinct ones,
        for the next ingest (never retried). False when it was not recorded: the table is full."""
        key = name_key(name[:requests.MAX_NAME])
        if not key:
            return False
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        stamp = now if self.dialect == "mysql" else now.isoformat(sep=" ", timespec="milliseconds")
        upsert = requests.upsert_statement(self.dialect, key, name, spotify_artist_id, spotify_name, stamp,
                                           self.settings.max_requests)
        hashed = requests.user_hash(self.settings.request_key, user_id)
        add_user = requests.add_user_statement(self.dialect, key, hashed, stamp) if hashed else ("", None)
        counted, _ = self._run(lambda conn: serving.execute_together(conn, [upsert, add_user]), deadline, retry=False)
        return bool(counted)

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
            # An SQLite mart must exist (never created here); a MySQL session's statements are stopped
            # by the server after db_timeout, so none outlives the client that gave up on it.
            conn = serving.connect(self.url, s.mart_user, s.mart_password, timeout=s.db_timeout, create=False,
                                   ssl_ca=s.mart_ssl_ca, statement_seconds=s.db_timeout)
        except (*self._errors, MartUrlError) as exc:
            raise MartUnavailable(f"cannot connect to the mart at {self.url}: {mask(str(exc))}") from None
        if self.dialect == "sqlite":
            # WAL (as a publish leaves the file) with NORMAL syncs: a request's commit does not wait for
            # the disk, and a crash can lose at most the last requests, never corrupt the file.
            conn.execute("PRAGMA synchronous=NORMAL")
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


def _gone_away(exc: BaseException) -> bool:
    """A connection-level failure (worth one re-connect), not an error in the statement itself."""
    if isinstance(exc, sqlite3.Error):
        return isinstance(exc, sqlite3.ProgrammingError)       # e.g. a closed connection object
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    return type(exc).__name__ == "InterfaceError" or code in (0, 2006, 2013, 2055, 4031, 1927)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
