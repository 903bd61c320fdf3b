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
- ``searched_at``, ``not_found_at``, ``resolved_at``: written by ingest (when it last searched the
  name, when that search found nothing, when the artist was fetched), for capping, expiry and
  marking requests done;
- a new name is recorded only while the table holds fewer than ``max_rows`` rows.

Statements are parameterized, one per call, with ``?`` placeholders (``mart.serving.fetch_all``).
"""

from __future__ import annotations

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

# What ingest reads: every request with its distinct users, most asked by distinct users first.
PENDING_SQL = """
SELECT r.name, r.spotify_artist_id, r.times, r.last_requested_at,
       (SELECT COUNT(*) FROM artist_request_users u WHERE u.name_key = r.name_key) AS users
FROM artist_requests r
ORDER BY users DESC, r.times DESC, r.last_requested_at DESC
"""


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
