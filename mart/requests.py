"""``artist_requests``: names the chatbot could not answer from the mart, kept for the next ingest.

A request is untrusted data typed by anyone, so it is bounded and carries what is needed to weigh
it, never who asked:

- one row per name key (``name_key``, ``name`` as typed, at most ``MAX_NAME`` characters: only a
  name, never a whole sentence); ``times`` counts every ask, ``first_requested_at`` and
  ``last_requested_at`` give its recency;
- ``spotify_artist_id`` (and ``spotify_name``) when a live lookup resolved the name: either a hit
  close to what was typed, or one in another script that the user confirmed (then the typed name
  is an alias of that artist: ``jobs/ingest.py --requests`` writes it to the lake's
  ``artist_aliases`` and the next publish serves it);
- ``artist_request_users``: the distinct users who asked, as keyed hashes of their Kakao ids
  (``user_hash``, never the id itself), at most ``MAX_USERS`` per request, so ranking by distinct
  users cannot be inflated by one user repeating a name;
- ``searched_at``, ``not_found_at``, ``resolved_at``: written by ingest after its lake write (when it
  last looked the name up, when that found nothing, when the artist was fetched and stored);
- ``added_by``: the keyed hash of the user who first asked (``UNSIGNED`` on an endpoint whose
  requests are not signed): one user adds at most ``quota`` new names in 24 hours (:func:`record`);
- the table holds at most ``max_rows`` rows: a new name takes the place of the request with the
  fewest distinct users, then the oldest last ask (its users go with it).

``alias_confirmations``: a user's tap on "네, 맞아요" under an alias offer the bot signed for that
user, once per (alias key, artist, user): a replay changes nothing. The ingest learns an alias only
from enough distinct users (``alias_candidates_statement``) and after its own checks
(``jobs.sources.learned_aliases``).

What ingest takes (``take_statement``): at most ``max_requests`` per run, ranked by distinct users,
then the latest ask, then ``times``. A name not found is taken again only once asked again after
that search and ``retry_days`` after it; a resolved one likewise (the chatbot records only names the
mart cannot answer, so an ask after resolution means the publish has not happened yet, or the
artist left the mart). A request nobody asked for in ``expiry_days`` expires: ingest deletes it and
its users (``expire_statements``), which also frees room under ``max_rows`` for new names.

Statements are parameterized, one per call, with ``?`` placeholders (``mart.serving.fetch_all``).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from dataclasses import dataclass

MAX_NAME = 100
MAX_USERS = 1000
UNSIGNED = "unsigned"  # ``added_by`` of names added through an endpoint whose users are not verified

_ADD_USER = {
    "mysql": """
INSERT INTO artist_request_users (name_key, user_hash, first_requested_at)
SELECT ?, ?, ? FROM DUAL
WHERE EXISTS (SELECT 1 FROM artist_requests WHERE name_key = ?)
  AND (SELECT COUNT(*) FROM artist_request_users WHERE name_key = ?) < ?
ON DUPLICATE KEY UPDATE user_hash = user_hash
""",
    "sqlite": """
INSERT INTO artist_request_users (name_key, user_hash, first_requested_at)
SELECT ?, ?, ?
WHERE EXISTS (SELECT 1 FROM artist_requests WHERE name_key = ?)
  AND (SELECT COUNT(*) FROM artist_request_users WHERE name_key = ?) < ?
ON CONFLICT (name_key, user_hash) DO NOTHING
""",
}

# Requests ingest may take now; parameters: expiry cutoff, resolved retry cutoff, not-found retry cutoff.
_TAKEABLE = """
FROM artist_requests r
WHERE r.last_requested_at >= ?
  AND (r.resolved_at IS NULL OR (r.last_requested_at > r.resolved_at AND r.resolved_at < ?))
  AND (r.not_found_at IS NULL OR (r.last_requested_at > r.not_found_at AND r.not_found_at < ?))
"""

_TAKE = (
    """
SELECT r.name_key, r.name, r.spotify_artist_id,
       (SELECT COUNT(*) FROM artist_request_users u WHERE u.name_key = r.name_key) AS users
"""
    + _TAKEABLE
    + """
ORDER BY users DESC, r.last_requested_at DESC, r.times DESC, r.name_key
LIMIT ?
"""
)

_COUNT = "SELECT COUNT(*)" + _TAKEABLE

_RESOLVED = "UPDATE artist_requests SET searched_at = ?, resolved_at = ?, not_found_at = NULL WHERE name_key = ?"
_NOT_FOUND = "UPDATE artist_requests SET searched_at = ?, not_found_at = ?, resolved_at = NULL WHERE name_key = ?"
_EXPIRE = "DELETE FROM artist_requests WHERE last_requested_at < ?"
_ORPHAN_USERS = (
    "DELETE FROM artist_request_users WHERE NOT EXISTS "
    "(SELECT 1 FROM artist_requests r WHERE r.name_key = artist_request_users.name_key)"
)


@dataclass(frozen=True)
class Ask:
    """One ask for a name the mart could not answer, as the chatbot records it."""

    name_key: str
    name: str
    stamp: object  # now, as the dialect stores it (``stamp`` for SQLite)
    day_ago: object  # 24 hours before, likewise
    user_hash: str = ""  # a verified user (``user_hash``), or "" (not counted among users)
    added_by: str = UNSIGNED  # whose quota a new name counts against
    spotify_artist_id: str | None = None
    spotify_name: str | None = None


@dataclass(frozen=True)
class Recorded:
    """What :func:`record` did: ``counted`` (a name already asked for), ``added`` (a new name, maybe in
    the place of ``evicted``), ``over_quota`` (the user added ``quota`` new names in 24 hours) or
    ``full`` (the table may hold no rows at all)."""

    outcome: str
    evicted: str | None = None

    @property
    def recorded(self) -> bool:
        return self.outcome in ("counted", "added")


_EXISTS = "SELECT 1 FROM artist_requests WHERE name_key = ?"
_COUNT_AGAIN = """
UPDATE artist_requests SET name = ?, spotify_artist_id = COALESCE(?, spotify_artist_id),
  spotify_name = COALESCE(?, spotify_name), last_requested_at = ?, times = times + 1
WHERE name_key = ?
"""
_ADDED_TODAY = "SELECT COUNT(*) FROM artist_requests WHERE added_by = ? AND first_requested_at >= ?"
_ROWS = "SELECT COUNT(*) FROM artist_requests"
_GIVES_WAY = """
SELECT r.name_key FROM artist_requests r
ORDER BY (SELECT COUNT(*) FROM artist_request_users u WHERE u.name_key = r.name_key), r.last_requested_at, r.name_key
LIMIT 1
"""
_INSERT = """
INSERT INTO artist_requests (name_key, name, spotify_artist_id, spotify_name, first_requested_at, last_requested_at,
                             times, added_by)
VALUES (?, ?, ?, ?, ?, ?, 1, ?)
"""
_DELETE_REQUEST = (
    "DELETE FROM artist_requests WHERE name_key = ?",
    "DELETE FROM artist_request_users WHERE name_key = ?",
)


def record(transaction, ask: Ask, max_rows: int, quota: int) -> Recorded:
    """Count ``ask`` in ``transaction`` (``mart.serving.in_transaction``): a name already there is counted
    again; a new one is added when its adder has added fewer than ``quota`` names in 24 hours, in the
    place of the request that gives way (fewest distinct users, oldest last ask) when the table holds
    ``max_rows``. The user is added to the request's distinct users either way (up to ``MAX_USERS``)."""
    spotify_name = (ask.spotify_name or None) and ask.spotify_name[:512]
    evicted = None
    if transaction.query(_EXISTS, (ask.name_key,)):
        transaction.execute(
            _COUNT_AGAIN, (ask.name[:MAX_NAME], ask.spotify_artist_id, spotify_name, ask.stamp, ask.name_key)
        )
        outcome = "counted"
    else:
        if max_rows <= 0:
            return Recorded("full")
        if transaction.query(_ADDED_TODAY, (ask.added_by, ask.day_ago))[0][0] >= quota:
            return Recorded("over_quota")
        if transaction.query(_ROWS)[0][0] >= max_rows:
            ((evicted,),) = transaction.query(_GIVES_WAY)
            for sql in _DELETE_REQUEST:
                transaction.execute(sql, (evicted,))
        transaction.execute(
            _INSERT,
            (
                ask.name_key,
                ask.name[:MAX_NAME],
                ask.spotify_artist_id,
                spotify_name,
                ask.stamp,
                ask.stamp,
                ask.added_by,
            ),
        )
        outcome = "added"
    if ask.user_hash:
        transaction.execute(
            _ADD_USER[transaction.dialect],
            (ask.name_key, ask.user_hash, ask.stamp, ask.name_key, ask.name_key, MAX_USERS),
        )
    return Recorded(outcome, evicted)


def user_hash(key: str, user_id: str) -> str:
    """The keyed hash (HMAC-SHA256, 32 hex digits) a user id is kept as; ``""`` for no id."""
    if not user_id:
        return ""
    return hmac.new(key.encode("utf-8"), user_id.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]


def stamp(moment: datetime.datetime) -> str:
    """A naive UTC time as both dialects store and compare it (``YYYY-MM-DD HH:MM:SS.mmm``)."""
    return moment.isoformat(sep=" ", timespec="milliseconds")


def _cutoffs(now: datetime.datetime, retry_days: float, expiry_days: float) -> tuple[str, str, str]:
    retry = stamp(now - datetime.timedelta(days=retry_days))
    return stamp(now - datetime.timedelta(days=expiry_days)), retry, retry


def take_statement(now: datetime.datetime, limit: int, retry_days: float, expiry_days: float) -> tuple[str, tuple]:
    """The query for ``(name_key, name, spotify_artist_id, users)`` of the requests to take now, best first."""
    return _TAKE, (*_cutoffs(now, retry_days, expiry_days), int(limit))


def count_statement(now: datetime.datetime, retry_days: float, expiry_days: float) -> tuple[str, tuple]:
    """The query counting every request that could be taken now (the cap aside)."""
    return _COUNT, _cutoffs(now, retry_days, expiry_days)


def outcome_statement(name_key: str, found: bool, now: datetime.datetime) -> tuple[str, tuple]:
    """The statement marking one looked-up request resolved (``found``) or not found, at ``now``."""
    return (_RESOLVED if found else _NOT_FOUND), (stamp(now), stamp(now), name_key)


def expire_statements(now: datetime.datetime, expiry_days: float) -> list[tuple[str, tuple]]:
    """The statements deleting requests last asked more than ``expiry_days`` ago, and their users."""
    return [(_EXPIRE, (stamp(now - datetime.timedelta(days=expiry_days)),)), (_ORPHAN_USERS, ())]


_CONFIRMED_TODAY = "SELECT COUNT(*) FROM alias_confirmations WHERE user_hash = ? AND confirmed_at >= ?"
_CONFIRM = {
    "mysql": "INSERT IGNORE INTO alias_confirmations (alias_key, artist_id, user_hash, typed, confirmed_at) "
    "VALUES (?, ?, ?, ?, ?)",
    "sqlite": "INSERT INTO alias_confirmations (alias_key, artist_id, user_hash, typed, confirmed_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
}


def confirm(transaction, alias_key: str, artist_id: str, hashed: str, typed: str, now, day_ago, quota: int) -> str:
    """Count a verified user's (``hashed``) confirmation that ``typed`` names ``artist_id``, once per user:
    ``confirmed``, ``again`` (this user had confirmed it: nothing changes) or ``over_quota`` (``quota``
    confirmations by the user in 24 hours)."""
    if transaction.query(_CONFIRMED_TODAY, (hashed, day_ago))[0][0] >= quota:
        return "over_quota"
    added = transaction.execute(_CONFIRM[transaction.dialect], (alias_key, artist_id, hashed, typed[:MAX_NAME], now))
    return "confirmed" if added else "again"


_CANDIDATES = """
SELECT alias_key, artist_id, MAX(typed), COUNT(*) AS users FROM alias_confirmations
GROUP BY alias_key, artist_id HAVING COUNT(*) >= ?
ORDER BY users DESC, alias_key, artist_id
LIMIT ?
"""


def alias_candidates_statement(min_users: int, limit: int) -> tuple[str, tuple]:
    """The query for ``(alias_key, artist_id, typed, users)`` of aliases confirmed by at least
    ``min_users`` distinct users, most confirmed first."""
    return _CANDIDATES, (int(min_users), int(limit))


def forget_confirmations_statement(alias_key: str, artist_id: str) -> tuple[str, tuple]:
    """The statement deleting the confirmations of an alias that was removed by hand."""
    return "DELETE FROM alias_confirmations WHERE alias_key = ? AND artist_id = ?", (alias_key, artist_id)
