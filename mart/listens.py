"""``chat_listens``: the known artists the chatbot answered, per signed user and day, for the ingest.

When the chatbot answers with an artist the mart knows (its ``known`` replies: the artist the user asked
about), that is a small piece of listening data: this user wanted this artist today. Like a request it is
untrusted data typed by anyone, so it is bounded and keeps no one's id:

- only users the chatbot can trust are counted (requests signed by the skill secret); each is kept as
  the same keyed hash ``artist_request_users`` uses (``mart.requests.user_hash``), never the Kakao id;
- one row per (user, UTC day, artist): ``asks`` counts the asks of that day, up to ``MAX_ASKS``;
- one user adds at most ``per_day`` distinct artists a day (``CHAT_LISTENS_PER_USER_PER_DAY``); further
  artists that day record nothing, while asks for the artists already there are still counted;
- rows older than the retention (``CHAT_LISTENS_RETENTION_DAYS``) are deleted: a few at a time by the
  chatbot now and then (:func:`prune_statement`, bounded by ``limit`` and the ``day`` index), and all of
  them by the ingest before it reads the table (``jobs.sources.chat_listens``), which turns each
  (user, artist) into one ``artist_contexts`` row weighted by the number of days asked.

The cap is checked inside the statement that inserts (one statement, no read before it), so two answers
for one user cannot both slip past it unless they run at the same instant; the row that may then exceed
it is harmless (the weight is capped again by the ingest).

Statements are parameterized, with ``?`` placeholders (``mart.serving``); days are ``YYYY-MM-DD`` text,
which MySQL compares with its ``DATE`` column and SQLite stores as it is.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

MAX_ASKS = 10  # asks counted per user, artist and day: enough to tell a habit from a single look

_RECORD = {
    "mysql": """
INSERT INTO chat_listens (user_hash, artist_id, day, asks)
SELECT ?, ?, ?, 1 FROM DUAL
WHERE (SELECT COUNT(*) FROM chat_listens WHERE user_hash = ? AND day = ? AND artist_id <> ?) < ?
ON DUPLICATE KEY UPDATE asks = LEAST(asks + 1, ?)
""",  # an update that changes nothing counts no row (PyMySQL does not ask for CLIENT_FOUND_ROWS)
    "sqlite": """
INSERT INTO chat_listens (user_hash, artist_id, day, asks)
SELECT ?, ?, ?, 1
WHERE (SELECT COUNT(*) FROM chat_listens WHERE user_hash = ? AND day = ? AND artist_id <> ?) < ?
ON CONFLICT (user_hash, day, artist_id) DO UPDATE SET asks = asks + 1 WHERE asks < ?
""",
}

# The oldest rows first, at most a given number: a bounded statement however much has piled up.
_PRUNE = {
    "mysql": "DELETE FROM chat_listens WHERE day < ? ORDER BY day LIMIT ?",
    "sqlite": "DELETE FROM chat_listens WHERE rowid IN "
    "(SELECT rowid FROM chat_listens WHERE day < ? ORDER BY day LIMIT ?)",
}


@dataclass(frozen=True)
class Listen:
    """One known answer for a verified user (``user_hash``) about ``artist_id`` on ``day``."""

    user_hash: str
    artist_id: str
    day: str  # YYYY-MM-DD (UTC): :func:`day_of`


def day_of(moment: datetime.datetime) -> str:
    """The UTC day of a naive UTC time, as the table stores it."""
    return moment.date().isoformat()


def cutoff_day(now: datetime.datetime, retention_days: float) -> str:
    """The oldest day a retention of ``retention_days`` keeps: ``now``'s day minus that many whole days.
    Rows of earlier days are the ones older than the retention (deleted)."""
    return (now.date() - datetime.timedelta(days=int(retention_days))).isoformat()


def record(transaction, listen: Listen, per_day: int, max_asks: int = MAX_ASKS) -> bool:
    """Count ``listen`` in ``transaction`` (``mart.serving.in_transaction``): a new row for an artist the user
    has not asked about that day, unless the user already has ``per_day`` artists that day; one more ask
    (up to ``max_asks``) for an artist already there. False when nothing changed (the cap, or the asks
    already at ``max_asks``)."""
    if per_day <= 0 or not listen.user_hash:
        return False
    changed = transaction.execute(
        _RECORD[transaction.dialect],
        (
            listen.user_hash,
            listen.artist_id,
            listen.day,
            listen.user_hash,
            listen.day,
            listen.artist_id,
            int(per_day),
            int(max_asks),
        ),
    )
    return changed > 0


def prune_statement(dialect: str, cutoff: str, limit: int) -> tuple[str, tuple]:
    """The statement deleting at most ``limit`` rows of days before ``cutoff`` (``cutoff_day``), oldest first.
    Run again until it deletes fewer than ``limit`` to delete them all."""
    return _PRUNE[dialect], (cutoff, int(limit))
