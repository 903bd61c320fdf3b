"""The chatbot's requests (the mart's ``artist_requests``) as the Spotify ingest takes them.

Requests are untrusted data to weigh, never orders. A run:

- takes at most ``ingest.max_requests`` of them, ranked by distinct users, then the latest ask, then
  how often asked (``mart.requests.take_statement``); a name looked up and not found is not taken
  again before ``ingest.request_retry_days`` have passed and someone asked again since; a resolved
  one likewise (``mart/requests.py`` says why);
- looks them up after the seeds and the refresh, ``CHUNK`` at a time (search, then the found
  artists' top tracks and features); when Spotify stops it (quota spent, an endpoint failing), the
  chunks done are kept and the rest is left, unmarked, for the next run;
- after the lake write, and only then, marks each request looked up resolved (its artist is in the
  written snapshot) or not found, and deletes requests nobody asked for in
  ``ingest.request_expiry_days`` (with their users): junk names expire, making room for new ones.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyspark.sql import SparkSession

from jobs.common.config import section
from jobs.common.errors import ConfigError
from jobs.sources.spotify import SpotifyCatalog, SpotifyError
from jobs.sources.spotify_snapshot import SpotifySnapshot, fetch_snapshot

if TYPE_CHECKING:
    from jobs.common.jdbc import MartTarget

log = logging.getLogger(__name__)

CHUNK = 20  # requests looked up (and their artists fetched) before the next ones: what a stop keeps


@dataclass(frozen=True)
class RequestPolicy:
    """``[ingest]`` ``max_requests``, ``request_retry_days``, ``request_expiry_days``, and for aliases chat
    users taught (``jobs.sources.learned_aliases``) ``alias_min_users`` and ``alias_search_results``."""

    max_requests: int = 100
    retry_days: float = 7.0
    expiry_days: float = 30.0
    alias_min_users: int = 3
    alias_search_results: int = 5

    @classmethod
    def from_config(cls, config: Mapping) -> RequestPolicy:
        ingest = section(config, "ingest")
        values = {}
        for key, name, kind in (
            ("max_requests", "max_requests", int),
            ("retry_days", "request_retry_days", float),
            ("expiry_days", "request_expiry_days", float),
            ("alias_min_users", "alias_min_users", int),
            ("alias_search_results", "alias_search_results", int),
        ):
            raw = ingest.get(name, getattr(cls, key))
            try:
                values[key] = kind(raw)
            except (TypeError, ValueError):
                raise ConfigError(f"ingest.{name} must be a number, not {raw!r}") from None
        policy = cls(**values)
        if policy.max_requests < 0:
            raise ConfigError(f"ingest.max_requests must be 0 or more, not {policy.max_requests}")
        if not 0 <= policy.retry_days <= policy.expiry_days:
            raise ConfigError(
                f"ingest.request_retry_days ({policy.retry_days:g}) must be between 0 and "
                f"ingest.request_expiry_days ({policy.expiry_days:g})"
            )
        if policy.alias_min_users < 1 or not 1 <= policy.alias_search_results <= 50:
            raise ConfigError(
                f"ingest.alias_min_users must be 1 or more (not {policy.alias_min_users}) and "
                f"ingest.alias_search_results 1 to 50 (not {policy.alias_search_results})"
            )
        return policy


@dataclass(frozen=True)
class Request:
    name_key: str
    name: str
    spotify_artist_id: str | None  # set when a live lookup resolved the name: no search needed
    users: int


@dataclass
class RequestRun:
    """The requests a run took and what became of them."""

    taken: list[Request]
    waiting: int = 0  # takeable requests beyond the cap
    looked_up: dict[str, str | None] = field(default_factory=dict)  # name_key -> artist id found, or None
    stopped: SpotifyError | None = None  # why the lookups stopped early
    markable: bool = True  # the mart has the request tables of version 2

    @property
    def left(self) -> int:
        """Requests left for a later run: taken but not looked up, and those beyond the cap."""
        return len(self.taken) - len(self.looked_up) + self.waiting

    def not_found(self) -> list[str]:
        return [r.name for r in self.taken if r.name_key in self.looked_up and self.looked_up[r.name_key] is None]


def take_requests(spark: SparkSession, target: MartTarget, policy: RequestPolicy, now: datetime.datetime) -> RequestRun:
    """The requests to look up in this run, best first (none when the mart has no requests table)."""
    from jobs.common.jdbc import MartConnection
    from mart import requests

    with MartConnection(spark, target) as conn:
        present = conn.tables()
        if "artist_requests" not in present or "artist_request_users" not in present:
            log.warning(
                "requests: the mart has no artist_requests of schema version 2; run a publish or "
                "python -m mart --migrate first. No requests taken"
            )
            return RequestRun([], markable=False)
        sql, params = requests.take_statement(now, policy.max_requests, policy.retry_days, policy.expiry_days)
        taken = [
            Request(str(key), str(name), str(sid) if sid else None, int(users))
            for key, name, sid, users in conn.query(sql, params)
        ]
        sql, params = requests.count_statement(now, policy.retry_days, policy.expiry_days)
        takeable = int(conn.scalar(sql, params) or 0)
    log.info(
        "requests: %d the chatbot could not answer may be looked up now; taking %d (ingest.max_requests=%d, "
        "ranked by distinct users, then the latest ask)",
        takeable,
        len(taken),
        policy.max_requests,
    )
    return RequestRun(taken, waiting=max(0, takeable - len(taken)))


def look_up(catalog: SpotifyCatalog, run: RequestRun, snapshot: SpotifySnapshot, progress) -> None:
    """Look up ``run.taken`` ``CHUNK`` at a time, adding their artists to ``snapshot``; a SpotifyError
    stops the lookups (``run.stopped``), keeping the chunks done and the names searched and not found."""
    have = {row[0] for row in snapshot.artists}
    for start in range(0, len(run.taken), CHUNK):
        part, looked = run.taken[start : start + CHUNK], {}
        try:
            for request in part:
                if request.spotify_artist_id:
                    looked[request.name_key] = request.spotify_artist_id
                else:  # a chat user's text: never taken for a hit in another script
                    artist = catalog.search_artist(request.name, other_script=False)
                    looked[request.name_key] = artist["id"] if artist else None
            new = [i for i in dict.fromkeys(looked.values()) if i and i not in have]
            got = fetch_snapshot(catalog, new, progress) if new else SpotifySnapshot()
        except SpotifyError as exc:
            run.stopped = exc
            searched = {r.name_key for r in part if not r.spotify_artist_id}
            run.looked_up.update({k: None for k, v in looked.items() if v is None and k in searched})
            return
        merge(snapshot, got)
        have.update(row[0] for row in got.artists)
        run.looked_up.update({k: (v if v in have else None) for k, v in looked.items()})


def merge(snapshot: SpotifySnapshot, more: SpotifySnapshot) -> None:
    """Add ``more``'s rows to ``snapshot``: artists and features not already there (by id)."""
    artists = {row[0] for row in snapshot.artists}
    snapshot.artists.extend(row for row in more.artists if row[0] not in artists)
    snapshot.top_tracks.extend(row for row in more.top_tracks if row[0] not in artists)
    tracks = {row[0] for row in snapshot.audio_features}
    snapshot.audio_features.extend(row for row in more.audio_features if row[0] not in tracks)


def report(run: RequestRun) -> None:
    """One line on what the requests gave, a warning when some were left because Spotify stopped."""
    found = sum(1 for v in run.looked_up.values() if v)
    log.info("requests: %d looked up, %d resolved, %d not found", len(run.looked_up), found, len(run.looked_up) - found)
    if run.stopped is not None:
        log.warning(
            "requests: Spotify stopped the lookups after %d of %d taken (%s); writing what was fetched. "
            "%d requests are left for the next run",
            len(run.looked_up),
            len(run.taken),
            str(run.stopped).split(". ")[0],
            run.left,
        )


def record_requests(
    spark: SparkSession, target: MartTarget, run: RequestRun, policy: RequestPolicy, now: datetime.datetime
) -> None:
    """After the lake write: mark the requests looked up resolved or not found, expire old ones."""
    from jobs.common.jdbc import MartConnection
    from mart import requests

    if not run.markable:
        return
    with MartConnection(spark, target) as conn, conn.transaction():
        for key, artist_id in run.looked_up.items():
            conn.execute(*requests.outcome_statement(key, artist_id is not None, now))
        expired = 0
        for number, (sql, params) in enumerate(requests.expire_statements(now, policy.expiry_days)):
            count = conn.execute(sql, params)
            expired += max(0, count) if number == 0 else 0
    log.info(
        "requests: marked %d in the mart; %d nobody asked for in %g days expired (deleted)",
        len(run.looked_up),
        expired,
        policy.expiry_days,
    )
