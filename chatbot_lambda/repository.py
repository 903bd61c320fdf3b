"""The mart, as the chatbot reads it, and the tables it writes: artist_requests with its users, users'
alias confirmations, and the known artists answered per signed user and day (chat_listens).

One connection per Lambda container, opened on first use and reused by warm invocations. A
reused connection that has gone away (server restart, idle timeout, killed) is re-opened and
the statement tried once more; a slow or unreachable database becomes :class:`MartUnavailable`
after ``DB_TIMEOUT_SECONDS``. Every statement binds its values as parameters.

A mart of an older schema still answers: without ``related_artists.reason`` (before version 4)
every related artist reads as ``sound``, and a failed ``chat_listens`` write pauses those writes
for a while (:meth:`MartRepository.record_listen`) instead of failing every answer's write.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from chatbot_lambda import matching
from chatbot_lambda.budget import KEEP_SECONDS, Deadline
from chatbot_lambda.settings import Settings
from mart import listens, requests, serving, suggest
from mart.suggest import Candidate
from mart.url import MartUrlError, mask
from shared.names import name_key

log = logging.getLogger(__name__)
T = TypeVar("T")

POPULAR_CACHE_SECONDS = 300.0
SUGGESTIONS = 5
UNSIGNED_QUOTA_FACTOR = 10  # unsigned requests share one quota of this many users' new names
REASONS_RECHECK_SECONDS = 300.0  # a mart found without related_artists.reason is asked again after this
LISTENS_PAUSE_SECONDS = 60.0  # after a failed chat_listens write, none is tried for this long
PRUNE_EVERY_SECONDS = 3600.0  # how often a container deletes chat_listens rows past their retention
PRUNE_ROWS = 200  # rows one such delete may take at most (the oldest, through the day index)


class MartUnavailable(RuntimeError):
    """The mart could not answer: unreachable, too slow, or without its tables."""


def _database_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sqlite3.Error]
    try:
        import pymysql

        errors.append(pymysql.err.Error)
    except ImportError:  # an SQLite-only install
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
        self._without_reasons_at: float | None = None  # when the mart was last found without reasons
        self._listens_paused_at: float | None = None  # when a chat_listens write last failed
        self._pruned_at: float | None = None  # when this container last pruned chat_listens
        self.connections_opened = 0
        self.dropped: Counter[str] = Counter()  # requests not kept or given way, by why
        self.listens: Counter[str] = Counter()  # chat_listens outcomes (record_listen), by outcome

    # -- what the chatbot asks ---------------------------------------------------------------------------

    def find_artist(self, keys: list[str], deadline: Deadline | None = None) -> list[serving.ArtistCard]:
        """The artist the longest of ``keys`` names (name or alias), then its related artists; ``[]`` when none."""
        tracks = self.settings.tracks_per_card
        cards = self._run(
            lambda conn: self._read_cards(
                lambda with_reasons: serving.find_artist_keys(conn, keys, tracks, with_reasons)
            ),
            deadline,
        )
        return cards if cards and cards[0].name else []

    def find_by_id(self, artist_id: str, deadline: Deadline | None = None) -> list[serving.ArtistCard]:
        """The artist with this id, then its related artists; ``[]`` when the mart has no such artist."""
        tracks = self.settings.tracks_per_card
        cards = self._run(
            lambda conn: self._read_cards(
                lambda with_reasons: serving.find_artist_by_id(conn, artist_id, tracks, with_reasons)
            ),
            deadline,
        )
        return cards if cards and cards[0].name else []

    def _read_cards(self, read: Callable[[bool], T]) -> T:
        """``read(with_reasons)``: with ``related_artists.reason``, unless this mart was found without it in
        the last ``REASONS_RECHECK_SECONDS``; a lookup that finds the column missing (a mart of schema
        version 3 or older) is read again without it, every related artist ``sound``."""
        now = self._clock()
        if self._without_reasons_at is not None and now - self._without_reasons_at < REASONS_RECHECK_SECONDS:
            return read(False)
        try:
            cards = read(True)
        except self._errors as exc:
            if not serving.is_missing_column(exc):
                raise
            self._without_reasons_at = now
            log.warning(
                "the mart's related_artists has no reason column (a mart before schema version 4): every "
                "related artist reads as sound until it is migrated (python -m mart --migrate, or a publish)"
            )
            return read(False)
        self._without_reasons_at = None
        return cards

    def suggestions(
        self, text: str, limit: int = SUGGESTIONS, deadline: Deadline | None = None
    ) -> tuple[list[matching.Suggestion], Candidate | None]:
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

    def most_popular_named(self, keep: Callable[[str], bool], among: int = 200) -> tuple[str, str] | None:
        """``(artist_id, name)`` of the most popular of the ``among`` most popular artists whose name passes
        ``keep``, or None (for the local command's ``--popular-hangul``; not cached)."""
        return next((ref for ref in self._run(lambda conn: serving.popular_refs(conn, among)) if keep(ref[1])), None)

    def record_request(
        self,
        name: str,
        spotify_artist_id: str | None,
        deadline: Deadline | None = None,
        user_id: str = "",
        spotify_name: str | None = None,
    ) -> bool:
        """Count one ask for ``name`` (an artist the mart lacks) for the next ingest (never retried),
        within the quotas of ``mart.requests.record``: the user is counted among the distinct users,
        and charged for a new name, only when requests are signed (``Settings.learning``); unsigned
        new names share one quota. False when it was not recorded; each name that was not, or that
        gave way to this one, is logged and counted in ``dropped``."""
        key = name_key(name[: requests.MAX_NAME])
        if not key:
            return False
        now = datetime.now(UTC).replace(tzinfo=None)
        hashed = requests.user_hash(self.settings.request_key, user_id) if self.settings.learning else ""
        ask = requests.Ask(
            key,
            name,
            self._stamp(now),
            self._stamp(now - timedelta(days=1)),
            hashed,
            hashed or requests.UNSIGNED,
            spotify_artist_id,
            spotify_name,
        )
        quota = self.settings.max_new_names_per_user * (1 if hashed else UNSIGNED_QUOTA_FACTOR)
        done = self._run(
            lambda conn: serving.in_transaction(
                conn, lambda tx: requests.record(tx, ask, self.settings.max_requests, quota)
            ),
            deadline,
            retry=False,
        )
        if done.evicted:
            self._dropped(
                "gave_way", done.evicted, f"to {key!r}: the table holds MAX_REQUESTS={self.settings.max_requests} rows"
            )
        if not done.recorded:
            why = (
                f"{'this user' if hashed else 'unsigned requests'} added {quota} new names in 24 hours"
                if done.outcome == "over_quota"
                else "MAX_REQUESTS=0"
            )
            self._dropped(done.outcome, key, why)
        return done.recorded

    def record_confirmation(self, typed: str, artist_id: str, user_id: str, deadline: Deadline | None = None) -> str:
        """Count a verified user's confirmation that ``typed`` names ``artist_id`` (once per user):
        ``confirmed``, ``again`` or ``over_quota`` (logged and counted in ``dropped``)."""
        key, hashed = name_key(typed), requests.user_hash(self.settings.request_key, user_id)
        if not (key and hashed):
            return "again"
        now = datetime.now(UTC).replace(tzinfo=None)
        done = self._run(
            lambda conn: serving.in_transaction(
                conn,
                lambda tx: requests.confirm(
                    tx,
                    key,
                    artist_id,
                    hashed,
                    typed,
                    self._stamp(now),
                    self._stamp(now - timedelta(days=1)),
                    self.settings.max_new_names_per_user,
                ),
            ),
            deadline,
            retry=False,
        )
        if done == "over_quota":
            self._dropped(
                "over_quota", key, f"this user confirmed {self.settings.max_new_names_per_user} aliases in 24 hours"
            )
        return done

    def record_listen(self, artist_id: str, user_id: str, deadline: Deadline | None = None) -> str:
        """Count that a verified user was answered about ``artist_id`` (a known artist) today, in
        ``chat_listens`` within its caps (``mart.listens.record``); now and then, rows past the retention
        are deleted too, a few at a time. Never raises, never retried: the answer does not wait on it
        beyond one bounded statement (``DB_TIMEOUT_SECONDS``, and only when the deadline leaves time).

        Returns, and counts in ``listens``: ``recorded``; ``capped`` (the user's
        ``CHAT_LISTENS_PER_USER_PER_DAY`` artists today, or this one's asks counted in full); ``off``
        (unsigned requests, no user id, or a cap of 0); ``skipped`` (too little time left);
        ``failed`` (logged; then ``paused`` for ``LISTENS_PAUSE_SECONDS``, so that a mart without the
        table costs no answer a failed write and a re-connection each)."""
        outcome = self._record_listen(artist_id, user_id, deadline)
        self.listens[outcome] += 1
        return outcome

    def _record_listen(self, artist_id: str, user_id: str, deadline: Deadline | None) -> str:
        s = self.settings
        if not (s.learning and user_id and artist_id and s.chat_listens_per_user_per_day > 0):
            return "off"
        now = self._clock()
        if self._listens_paused_at is not None and now - self._listens_paused_at < LISTENS_PAUSE_SECONDS:
            return "paused"
        if deadline is not None and deadline.remaining() < self._time_needed():
            return "skipped"
        moment = datetime.now(UTC).replace(tzinfo=None)
        listen = listens.Listen(requests.user_hash(s.request_key, user_id), artist_id, listens.day_of(moment))
        try:
            recorded = self._run(
                lambda conn: serving.in_transaction(
                    conn, lambda tx: listens.record(tx, listen, s.chat_listens_per_user_per_day)
                ),
                deadline,
                retry=False,
            )
        except MartUnavailable as exc:
            self._listens_paused_at = now
            log.warning(
                "chat listen not recorded (%s); none tried for %.0f s in this container", exc, LISTENS_PAUSE_SECONDS
            )
            return "failed"
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._prune_listens(moment, deadline)
        return "recorded" if recorded else "capped"

    def _prune_listens(self, moment: datetime, deadline: Deadline | None) -> None:
        """Delete at most ``PRUNE_ROWS`` chat_listens rows older than ``CHAT_LISTENS_RETENTION_DAYS`` (the
        ingest deletes the rest); a failure is logged, and tried again ``PRUNE_EVERY_SECONDS`` later."""
        if deadline is not None and deadline.remaining() < self._time_needed():
            return
        self._pruned_at = self._clock()
        retention = self.settings.chat_listens_retention_days
        statement = listens.prune_statement(self.dialect, listens.cutoff_day(moment, retention), PRUNE_ROWS)
        try:
            (deleted,) = self._run(lambda conn: serving.execute_together(conn, [statement]), deadline, retry=False)
        except MartUnavailable as exc:
            log.warning("chat_listens rows past their retention not deleted: %s", exc)
            return
        if deleted:
            log.info(
                "chat_listens: deleted %d rows older than %d days (CHAT_LISTENS_RETENTION_DAYS)", deleted, retention
            )

    def _stamp(self, moment: datetime):
        return moment if self.dialect == "mysql" else requests.stamp(moment)

    def _dropped(self, why: str, key: str, detail: str) -> None:
        self.dropped[why] += 1
        log.warning(
            "request %r not kept (%s: %s); %d so far in this container", key[:40], why, detail, self.dropped[why]
        )

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
            conn = serving.connect(
                self.url,
                s.mart_user,
                s.mart_password,
                timeout=s.db_timeout,
                create=False,
                ssl_ca=s.mart_ssl_ca,
                statement_seconds=s.db_timeout,
            )
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
        return isinstance(exc, sqlite3.ProgrammingError)  # e.g. a closed connection object
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    return type(exc).__name__ == "InterfaceError" or code in (0, 2006, 2013, 2055, 4031, 1927)


def _describe(exc: BaseException) -> str:
    """A driver error for the log: its class and, for MySQL's (numbered), its code alone, since MySQL's
    message can quote the value being written (a user's text); SQLite's messages name tables, not values."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if code is not None:
        return f"{type(exc).__name__} {code}"
    return f"{type(exc).__name__}: {str(exc)[:200]}"
