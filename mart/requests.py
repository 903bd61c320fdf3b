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
- a new name is recorded only while the table holds fewer than ``max_rows`` rows.

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

MAX_NAME = 100
MAX_USERS = 1000

_UPSERT = {
    "mysql": """
INSERT INTO artist_requests (name_key, name, spotify_artist_id, spotify_name, first_requested_at, last_requested_at,
                             times)
SELECT ?, ?, ?, ?, ?, ?, 1 FROM DUAL
WHERE EXISTS (SELECT 1 FROM artist_requests WHERE name_key = ?) OR (SELECT COUNT(*) FROM artist_requests) < ?
ON DUPLICATE KEY UPDATE name = VALUES(name),
  spotify_artist_id = COALESCE(VALUES(spotify_artist_id), spotify_artist_id),
  spotify_name = COALESCE(VALUES(spotify_name), spotify_name),
  last_requested_at = VALUES(last_requested_at), times = times + 1
""",
    "sqlite": """
INSERT INTO artist_requests (name_key, name, spotify_artist_id, spotify_name, first_requested_at, last_requested_at,
                             times)
SELECT ?, ?, ?, ?, ?, ?, 1
WHERE EXISTS (SELECT 1 FROM artist_requests WHERE name_key = ?) OR (SELECT COUNT(*) FROM artist_requests) < ?
ON CONFLICT (name_key) DO UPDATE SET name = excluded.name,
  spotify_artist_id = COALESCE(excluded.spotify_artist_id, artist_requests.spotify_artist_id),
  spotify_name = COALESCE(excluded.spotify_name, artist_requests.spotify_name),
  last_requested_at = excluded.last_requested_at, times = artist_requests.times + 1
""",
}

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

_TAKE = """
SELECT r.name_key, r.name, r.spotify_artist_id,
       (SELECT COUNT(*) FROM artist_request_users u WHERE u.name_key = r.name_key) AS users
""" + _TAKEABLE + """
ORDER BY users DESC, r.last_requested_at DESC, r.times DESC, r.name_key
LIMIT ?
"""

_COUNT = "SELECT COUNT(*)" + _TAKEABLE

_RESOLVED = "UPDATE artist_requests SET searched_at = ?, resolved_at = ?, not_found_at = NULL WHERE name_key = ?"
_NOT_FOUND = "UPDATE artist_requests SET searched_at = ?, not_found_at = ?, resolved_at = NULL WHERE name_key = ?"
_EXPIRE = "DELETE FROM artist_requests WHERE last_requested_at < ?"
_ORPHAN_USERS = ("DELETE FROM artist_request_users WHERE NOT EXISTS "
                 "(SELECT 1 FROM artist_requests r WHERE r.name_key = artist_request_users.name_key)")
def user_hash(key: str, user_id: str) -> str:
    """The keyed hash (HMAC-SHA256, 32 hex digits) a user id is kept as; ``""`` for no id."""
    if not user_id:
        return ""
    return hmac.new(key.encode("utf-8"), user_id.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]


def upsert_statement(dialect: str, name_key: str, name: str, spotify_artist_id: str | None,
                     spotify_name: str | None, stamp, max_rows: int) -> tuple[str, tuple]:
    """The statement (and parameters) counting one ask for ``name``."""
    params = (name_key, name[:MAX_NAME], spotify_artist_id, (spotify_name or None) and spotify_name[:512],
              stamp, stamp, name_key, int(max_rows))
    return _UPSERT[dialect], params


def add_user_statement(dialect: str, name_key: str, hashed: str, stamp) -> tuple[str, tuple]:
    """The statement (and parameters) counting ``hashed`` among the request's distinct users."""
    return _ADD_USER[dialect], (name_key, hashed, stamp, name_key, name_key, MAX_USERS)


def stamp(moment: datetime.datetime) -> str:
    """A naive UTC time as both dialects store and compare it (``YYYY-MM-DD HH:MM:SS.mmm``)."""
    return moment.isoformat(sep=" ", timespec="milliseconds")


def _cutoffs(now: datetime.datetime, retry_days: float, expiry_days: float) -> tuple[str, str, str]:
    retry = stamp(now - datetime.timedelta(days=retry_days))
    return stamp(now - datetime.timedelta(days=expiry_days)), retry, retry


def take_statement(now: datetime.datetime, limit: int, retry_days: float,
                   expiry_days: float) -> tuple[str, tuple]:
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
