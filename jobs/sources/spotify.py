"""Artists, top tracks and audio features from the Spotify Web API (spotipy), with fall-backs.

What an app may call depends on its quota (DESIGN.md, "Spotify Web API facts"):

- several artists (50 ids a call); closed -> one artist per call;
- an artist's top tracks (market ``spotify.market``); closed -> track search by artist name;
- audio features (100 ids a call); closed -> a Spotify-id based provider
  (``spotify.features_provider_url``, ReccoBeats-style ``GET audio-features?ids=``).

A closed endpoint (403, or 404 for an endpoint that was removed) is reported once, with what it
means, and never called again by this run. A 429 waits its Retry-After when that is at most
``max_retry_after`` seconds; more (or none) means the quota is spent and the run stops with
``QuotaExceeded``, having written nothing. 5xx answers, timeouts and broken JSON are retried
``max_retries`` times with exponential backoff. spotipy's own retries are off (its own session
is replaced by a plain one), so nothing sleeps inside a request.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from jobs.common.config import ConfigError, section
from mart.names import name_key

log = logging.getLogger(__name__)

SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")
ARTISTS_BATCH, FEATURES_BATCH = 50, 100
FEATURE_FIELDS = ("danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness",
                  "instrumentalness", "liveness", "valence", "tempo", "duration_ms", "time_signature")
_INT_FEATURES = {"key", "mode", "duration_ms", "time_signature"}

# What a closed endpoint means for the data, said once per run.
CLOSED_MEANING = {
    "several-artists": "artists are looked up one per call instead (slower, same data)",
    "top-tracks": "top tracks come from a track search by artist name instead (market-dependent, "
                  "ranked by popularity where given)",
    "audio-features": "audio features come from spotify.features_provider_url when set; otherwise these "
                      "tracks get none and the similarity job drops artists without features",
    "provider": "the audio-features provider refused: these tracks get no features",
    "search": "names cannot be resolved to artists and top tracks cannot fall back to search",
}


class SpotifyError(RuntimeError):
    """A request failed for good (after its retries); the message says which and why."""


class QuotaExceeded(SpotifyError):
    """A 429 whose Retry-After is absent or above the ceiling: the run stops cleanly."""


class EndpointClosed(SpotifyError):
    """This app may not call the endpoint (403/404): use the fall-back."""


class NotFound(SpotifyError):
    """One id that Spotify does not know."""


@dataclass(frozen=True)
class SpotifySettings:
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    api_url: str = "https://api.spotify.com/v1/"
    token_url: str = "https://accounts.spotify.com/api/token"
    features_provider_url: str = ""
    market: str = "KR"
    timeout: float = 5.0
    max_retries: int = 4
    backoff: float = 0.5
    max_retry_after: float = 120.0
    search_limit: int = 10
    provider_batch: int = 40
    top_tracks: int = 10

    @classmethod
    def from_config(cls, config: Mapping, env: Mapping[str, str] | None = None) -> "SpotifySettings":
        """``[spotify]``; credentials from SPOTIPY_CLIENT_ID / SPOTIPY_CLIENT_SECRET or ``credentials_secret``."""
        env = os.environ if env is None else env
        spotify = section(config, "spotify")
        secret = str(spotify.get("credentials_secret", "") or "")
        if secret:
            from mart.secrets import SecretError, secret_values
            try:
                client_id, client_secret = secret_values(secret, "client_id", "client_secret")
            except SecretError as exc:
                raise ConfigError(str(exc)) from None
        else:
            client_id, client_secret = env.get("SPOTIPY_CLIENT_ID", ""), env.get("SPOTIPY_CLIENT_SECRET", "")
        if not client_id or not client_secret:
            raise ConfigError("Spotify credentials missing: set SPOTIPY_CLIENT_ID and SPOTIPY_CLIENT_SECRET, or "
                              "spotify.credentials_secret (an AWS Secrets Manager id with client_id, client_secret)")
        known = {f for f in cls.__dataclass_fields__ if f not in ("client_id", "client_secret")}
        unknown = set(spotify) - known - {"credentials_secret"}
        if unknown:
            raise ConfigError(f"[spotify] has unknown settings: {', '.join(sorted(unknown))}")
        try:
            values = {k: type(getattr(cls, k))(v) for k, v in spotify.items() if k in known}
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[spotify] settings: {exc}") from None
        return cls(client_id=client_id, client_secret=client_secret, **values)


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class SpotifyCatalog:
    """The Web API as this app may use it. ``stats`` counts calls, waits, skips and failures."""

    def __init__(self, settings: SpotifySettings, sleep: Callable[[float], None] = time.sleep):
        import requests
        import spotipy
        from spotipy.cache_handler import MemoryCacheHandler
        from spotipy.oauth2 import SpotifyClientCredentials

        self.settings = settings
        self.sleep = sleep
        self.stats: Counter = Counter()
        self.closed: set[str] = set()
        # A plain session: spotipy's default one retries inside the call (and would sleep on 429).
        self.session = requests.Session()
        auth = SpotifyClientCredentials(settings.client_id, settings.client_secret,
                                        cache_handler=MemoryCacheHandler(), requests_session=self.session,
                                        requests_timeout=settings.timeout)
        auth.OAUTH_TOKEN_URL = settings.token_url
        self.sp = spotipy.Spotify(auth_manager=auth, requests_session=self.session,
                                  requests_timeout=settings.timeout, retries=0, status_retries=0)
        self.sp.prefix = settings.api_url
        self._spotify_exception = spotipy.SpotifyException
        self._oauth_error = spotipy.oauth2.SpotifyOauthError
        self._transient = (requests.Timeout, requests.ConnectionError)

    # -- one request ------------------------------------------------------------------------------------

    def _request(self, endpoint: str, call: Callable[[], object]):
        """``call()`` with this module's rate-limit, retry and closed-endpoint rules."""
        if endpoint in self.closed:
            raise EndpointClosed(endpoint)
        failures = 0
        while True:
            self.stats["requests"] += 1
            try:
                result = call()
                if result is None:
                    raise ValueError("no JSON in the answer")
                return result
            except self._oauth_error as exc:
                raise SpotifyError(f"Spotify refused the app's credentials at {self.settings.token_url}: {exc}. "
                                   "Check SPOTIPY_CLIENT_ID and SPOTIPY_CLIENT_SECRET") from None
            except self._spotify_exception as exc:
                status = exc.http_status
                if status == 429:
                    self._wait_rate_limit(endpoint, exc.headers or {})
                    continue
                if status == 403 or (status == 404 and endpoint not in ("artist", "provider")):
                    self._close(endpoint, status)
                    raise EndpointClosed(endpoint) from None
                if status == 404:
                    raise NotFound(endpoint) from None
                if status < 500:
                    raise SpotifyError(f"{endpoint}: HTTP {status}: {exc.msg.strip()}") from None
                problem = f"HTTP {status}"
            except self._transient as exc:
                problem = type(exc).__name__
            except (ValueError, TypeError):   # spotipy gives None for broken JSON, and some calls then fail on it
                problem = "malformed JSON"
            failures += 1
            self.stats["retries"] += 1
            if failures > self.settings.max_retries:
                self.stats["failed_requests"] += 1
                raise SpotifyError(f"{endpoint}: {problem}, still after {self.settings.max_retries} retries")
            pause = self.settings.backoff * 2 ** (failures - 1)
            log.warning("%s: %s; retry %d of %d in %.1f s", endpoint, problem, failures, self.settings.max_retries,
                        pause)
            self.sleep(pause)

    def _wait_rate_limit(self, endpoint: str, headers: Mapping) -> None:
        raw = headers.get("Retry-After") or headers.get("retry-after")
        try:
            wait = float(raw)
        except (TypeError, ValueError):
            wait = None
        if wait is None or wait > self.settings.max_retry_after or wait < 0:
            raise QuotaExceeded(
                f"{endpoint}: Spotify answered 429 with Retry-After {raw!r}, beyond the ceiling "
                f"spotify.max_retry_after={self.settings.max_retry_after:g} s: the app's request quota looks spent. "
                "Stopping; this run wrote nothing. Run it again later (the same dt is replaced, not duplicated)")
        self.stats["rate_limited"] += 1
        self.stats["waited_s"] += wait
        log.info("%s: rate limited, waiting %.0f s (Retry-After)", endpoint, wait)
        self.sleep(wait)

    def _close(self, endpoint: str, status: int) -> None:
        if endpoint not in self.closed:
            self.closed.add(endpoint)
            log.warning("Spotify endpoint %r is closed to this app (HTTP %d): %s", endpoint, status,
                        CLOSED_MEANING.get(endpoint, "it is skipped"))

    # -- artists ----------------------------------------------------------------------------------------

    def artists(self, ids: Sequence[str]) -> list[dict]:
        """Artist objects for ``ids`` (unknown ids skipped and counted), in batches of 50 when allowed."""
        found = []
        for batch in chunks(list(ids), ARTISTS_BATCH):
            try:
                answer = self._request("several-artists", lambda: self.sp.artists(list(batch)))
                for artist in answer.get("artists") or []:
                    if artist is None:
                        self.stats["skipped_artists"] += 1
                    else:
                        found.append(artist)
                continue
            except EndpointClosed:
                pass
            for artist_id in batch:
                try:
                    found.append(self._request("artist", lambda: self.sp.artist(artist_id)))
                except NotFound:
                    self.stats["skipped_artists"] += 1
        return found

    def search_artist(self, name: str) -> dict | None:
        """The artist a typed name most likely means (market ``market``), or None."""
        try:
            answer = self._request("search", lambda: self.sp.search(
                q=name, type="artist", market=self.settings.market, limit=self.settings.search_limit))
        except EndpointClosed:
            return None
        items = [a for a in (answer.get("artists") or {}).get("items") or [] if a]
        exact = [a for a in items if name_key(a.get("name")) == name_key(name)]
        return (exact or items or [None])[0]

    # -- top tracks -------------------------------------------------------------------------------------

    def top_tracks(self, artist: Mapping) -> list[dict]:
        """The artist's top tracks, best first (at most ``top_tracks``)."""
        artist_id = artist["id"]
        try:
            answer = self._request("top-tracks", lambda: self.sp.artist_top_tracks(artist_id,
                                                                                 country=self.settings.market))
            tracks = [t for t in answer.get("tracks") or [] if t]
        except EndpointClosed:
            tracks = self._searched_tracks(artist)
        except NotFound:
            tracks = []
        return tracks[: self.settings.top_tracks]

    def _searched_tracks(self, artist: Mapping) -> list[dict]:
        name = str(artist.get("name") or "").replace('"', " ")
        try:
            answer = self._request("search", lambda: self.sp.search(
                q=f'artist:"{name}"', type="track", market=self.settings.market, limit=self.settings.search_limit))
        except EndpointClosed:
            return []
        items = [t for t in (answer.get("tracks") or {}).get("items") or []
                 if t and any(a.get("id") == artist["id"] for a in t.get("artists") or [])]
        # Search order is relevance; popularity (when the app still gets it) makes a better rank.
        return sorted(items, key=lambda t: -(t.get("popularity") or 0)) if all(
            t.get("popularity") is not None for t in items) else items

    # -- audio features ---------------------------------------------------------------------------------

    def audio_features(self, track_ids: Sequence[str]) -> list[dict]:
        """Feature rows (with ``source``) for the tracks that have some; the others are counted."""
        rows, missing = [], []
        pending = list(dict.fromkeys(track_ids))
        for batch in chunks(pending, FEATURES_BATCH):
            try:
                answer = self._request("audio-features", lambda: self.sp.audio_features(list(batch)))
            except EndpointClosed:
                missing.extend(batch)
                continue
            got = {f["id"]: f for f in answer or [] if f}
            rows.extend(dict(f, source="spotify") for f in got.values())
            missing.extend(t for t in batch if t not in got)
        if missing and self.settings.features_provider_url:
            rows.extend(self._provider_features(missing))
        self.stats["tracks_without_features"] += len(pending) - len({r["id"] for r in rows})
        return rows

    def _provider_features(self, track_ids: Sequence[str]) -> list[dict]:
        url = self.settings.features_provider_url.rstrip("/") + "/audio-features"
        rows = []

        def fetch(batch):
            response = self.session.get(url, params={"ids": ",".join(batch)}, timeout=self.settings.timeout)
            if response.status_code >= 400:
                raise self._spotify_exception(response.status_code, -1, response.text[:200],
                                              headers=response.headers)
            try:
                return response.json()
            except ValueError:
                return None

        for batch in chunks(list(track_ids), self.settings.provider_batch):
            try:
                answer = self._request("provider", lambda: fetch(batch))
            except (EndpointClosed, NotFound):
                break
            for item in answer.get("content") or []:
                href = str(item.get("href") or "")
                track_id = href.rstrip("/").rsplit("/", 1)[-1] if "open.spotify.com/track/" in href else item.get("id")
                if track_id in batch:
                    rows.append(dict(item, id=track_id, source="provider"))
        return rows


# -- Spotify JSON -> lake rows ----------------------------------------------------------------------------

def artist_row(artist: Mapping) -> tuple:
    images = artist.get("images") or []
    followers = (artist.get("followers") or {}).get("total")
    return (artist["id"], artist.get("name"), list(artist.get("genres") or []), artist.get("popularity"),
            followers, images[0].get("url") if images else None,
            (artist.get("external_urls") or {}).get("spotify"), "spotify")


def top_track_rows(artist_id: str, tracks: Iterable[Mapping], source: str = "spotify") -> list[tuple]:
    rows, seen = [], set()
    for track in tracks:
        if track.get("id") in seen or not track.get("id"):
            continue
        seen.add(track["id"])
        album = track.get("album") or {}
        images = album.get("images") or []
        rows.append((artist_id, track["id"], len(rows) + 1, track.get("name"), album.get("name"),
                     images[0].get("url") if images else None, track.get("popularity"), track.get("duration_ms"),
                     (track.get("external_urls") or {}).get("spotify"), source))
    return rows


def feature_row(features: Mapping) -> tuple:
    values = []
    for name in FEATURE_FIELDS:
        value = features.get(name)
        if value is not None:
            value = int(value) if name in _INT_FEATURES else float(value)
        values.append(value)
    return (features["id"], *values, features.get("source", "spotify"))


# -- one snapshot ------------------------------------------------------------------------------------------

@dataclass
class SpotifySnapshot:
    """Lake rows of one ingest, and what could not be had."""

    artists: list[tuple] = field(default_factory=list)
    top_tracks: list[tuple] = field(default_factory=list)
    audio_features: list[tuple] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)


def resolve_names(catalog: SpotifyCatalog, names: Iterable[str]) -> tuple[list[str], list[str]]:
    """Artist ids for typed names (search, market KR by default); returns ``(ids, names not found)``."""
    ids, missing = [], []
    for name in names:
        artist = catalog.search_artist(name)
        if artist is None:
            missing.append(name)
        else:
            ids.append(artist["id"])
    return ids, missing


def fetch_snapshot(catalog: SpotifyCatalog, ids: Sequence[str], progress_factory) -> SpotifySnapshot:
    """Artists, their top tracks and the tracks' audio features for ``ids`` (duplicates ignored)."""
    snapshot = SpotifySnapshot()
    ids = list(dict.fromkeys(ids))
    artists = catalog.artists(ids)
    snapshot.artists = [artist_row(a) for a in artists]
    progress = progress_factory("top tracks", len(artists))
    for artist in artists:
        snapshot.top_tracks.extend(top_track_rows(artist["id"], catalog.top_tracks(artist)))
        progress.advance()
    progress.close()
    track_ids = list(dict.fromkeys(row[1] for row in snapshot.top_tracks))
    snapshot.audio_features = [feature_row(f) for f in catalog.audio_features(track_ids)]
    return snapshot
