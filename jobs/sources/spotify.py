"""Artists, top tracks and audio features from the Spotify Web API (spotipy), with fall-backs.

What an app may call depends on its quota (docs/design.md, "Spotify Web API"):

- several artists (50 ids a call); closed -> one artist per call;
- an artist's top tracks (market ``spotify.market``); closed -> track search by artist name;
- audio features (100 ids a call); closed -> a Spotify-id based provider
  (``spotify.features_provider_url``, ReccoBeats-style ``GET audio-features?ids=``).

A closed endpoint (403, or 404 for an endpoint that was removed) is reported once, with what it
means, and never called again by this run. A 429 waits its Retry-After when that is at most
``max_retry_after`` seconds, and at most ``max_rate_limit_waits`` times in a row for one request;
more (or no Retry-After) means the quota is spent and the run stops with ``QuotaExceeded``, having
written nothing. 5xx answers, timeouts, connections broken mid-answer and broken JSON are retried
``max_retries`` times with exponential backoff; each request takes at most ``timeout`` seconds
in total, however slowly its answer trickles in, and a body over ``max_response_bytes`` stops the
run with an error. The token endpoint follows the same rules; only
refused credentials (400/401) stop the run at once. spotipy's own retries are off (its own session
is replaced by a plain one), so nothing sleeps inside a request.

Names become artists through search, taking only a hit close to the typed name
(``shared.names.closest_name``, the chatbot's rule too). Ids that are not Spotify ids are skipped
and counted before any request.

The catalog's settings are in ``jobs.sources.spotify_settings``, the rows of one snapshot and their
fetching in ``jobs.sources.spotify_snapshot``. This module stays over 300 lines because
``SpotifyCatalog`` is one unit: every endpoint goes through the same request, retry, rate-limit and
closed-endpoint rules and shares their counters.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from jobs.common.progress import Progress
from jobs.sources.spotify_settings import SpotifySettings
from shared.names import closest_name

log = logging.getLogger(__name__)

SPOTIFY_ID = re.compile(r"\A[0-9A-Za-z]{22}\Z")  # the base62 id; \Z: no trailing newline either
ARTISTS_BATCH, FEATURES_BATCH = 50, 100

# What a closed endpoint means for the data, said once per run.
CLOSED_MEANING = {
    "several-artists": "artists are looked up one per call instead (slower, same data)",
    "top-tracks": "top tracks come from a track search by artist name instead (market-dependent, "
    "ranked by popularity where given)",
    "audio-features": "audio features come from spotify.features_provider_url when set; otherwise these "
    "tracks get none and the similarity job drops artists without features",
    "provider": "the audio-features provider refused or has no such endpoint (check "
    "spotify.features_provider_url): these tracks get no features",
    "search": "names cannot be resolved to artists and top tracks cannot fall back to search",
}


class SpotifyError(RuntimeError):
    """A request failed for good (after its retries); the message says which and why."""


class QuotaExceeded(SpotifyError):
    """A 429 whose Retry-After is absent or above the ceiling, or too many 429s in a row: the run stops
    cleanly."""


class EndpointClosed(SpotifyError):
    """This app may not call the endpoint (403/404): use the fall-back."""


class NotFound(SpotifyError):
    """One id that Spotify does not know."""


_STOPPING = "Stopping; this run wrote nothing. Run it again later (the same dt is replaced, not duplicated)"


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _token_answer(exc: BaseException) -> tuple[int | None, Mapping]:
    """``(HTTP status, headers)`` of the token endpoint's answer behind spotipy's SpotifyOauthError, or
    ``(None, {})``. spotipy (2.25) carries neither, but raises it while handling requests' HTTPError,
    which Python keeps as the error's context."""
    response = getattr(exc.__cause__ or exc.__context__, "response", None)
    if response is None:
        return None, {}
    return response.status_code, response.headers or {}


ProgressFactory = Callable[[str, int], Progress]


def log_progress(label: str, total: int) -> Progress:
    """The default progress of a long loop: a bar on a terminal, else a log line every 10 s."""
    return Progress(label, total, log)


class SpotifyCatalog:
    """The Web API as this app may use it. ``stats`` counts calls, waits, skips and failures.

    ``progress(label, total)`` makes the progress of the long loops (artists, names, audio features);
    methods taking a ``progress`` use it instead of this default.
    """

    def __init__(
        self,
        settings: SpotifySettings,
        sleep: Callable[[float], None] = time.sleep,
        progress: ProgressFactory = log_progress,
    ):
        import requests
        import spotipy
        from spotipy.cache_handler import MemoryCacheHandler
        from spotipy.oauth2 import SpotifyClientCredentials

        from jobs.sources.bounded_http import BodyTooLarge, bounded_session

        self.settings = settings
        self.sleep = sleep
        self.progress = progress
        self.stats: Counter = Counter()
        self.closed: set[str] = set()
        # A plain session: spotipy's default one retries inside the call (and would sleep on 429). Each
        # exchange ends within spotify.timeout in total (not per read) and refuses bodies over
        # spotify.max_response_bytes.
        self.session = bounded_session(settings.timeout, settings.max_response_bytes)
        auth = SpotifyClientCredentials(
            settings.client_id,
            settings.client_secret,
            cache_handler=MemoryCacheHandler(),
            requests_session=self.session,
            requests_timeout=settings.timeout,
        )
        auth.OAUTH_TOKEN_URL = settings.token_url
        self.sp = spotipy.Spotify(
            auth_manager=auth,
            requests_session=self.session,
            requests_timeout=settings.timeout,
            retries=0,
            status_retries=0,
        )
        self.sp.prefix = settings.api_url
        self._spotify_exception = spotipy.SpotifyException
        self._too_large = BodyTooLarge
        self._oauth_error = spotipy.oauth2.SpotifyOauthError
        # A connection reset mid-body surfaces as ChunkedEncodingError (or ContentDecodingError when compressed).
        self._transient = (
            requests.Timeout,
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        )

    # -- one request ------------------------------------------------------------------------------------

    def _request(self, endpoint: str, call: Callable[[], object]):
        """``call()`` with this module's rate-limit, retry and closed-endpoint rules (module docstring).

        Raises EndpointClosed (403; 404 but for one artist), NotFound (404 for one artist),
        QuotaExceeded, or SpotifyError once the retries are spent or for an answer retrying cannot fix.
        """
        if endpoint in self.closed:
            raise EndpointClosed(endpoint)
        failures = waits = 0
        while True:
            self.stats["requests"] += 1
            try:
                result = call()
                if result is None:
                    raise ValueError("no JSON in the answer")
                return result
            except self._oauth_error as exc:
                status, headers = _token_answer(exc)
                if status == 429:
                    waits += 1
                    self._wait_rate_limit("token", headers, waits)
                    continue
                if status is None or status < 500:
                    raise self._token_refused(status, exc) from None
                problem = f"the token endpoint answered HTTP {status}"
            except self._spotify_exception as exc:
                status = exc.http_status
                if status == 429:
                    waits += 1
                    self._wait_rate_limit(endpoint, exc.headers or {}, waits)
                    continue
                if status == 403 or (status == 404 and endpoint != "artist"):
                    self._close(endpoint, status)
                    raise EndpointClosed(endpoint) from None
                if status == 404:
                    raise NotFound(endpoint) from None
                if status < 500:
                    raise SpotifyError(f"{endpoint}: HTTP {status}: {exc.msg.strip()}") from None
                problem = f"HTTP {status}"
            except self._too_large as exc:  # the same request would bring the same body again
                self.stats["failed_requests"] += 1
                raise SpotifyError(f"{endpoint}: {exc} (spotify.max_response_bytes)") from None
            except self._transient as exc:
                problem = type(exc).__name__ + self._at_token_endpoint(exc)
            except (ValueError, TypeError):  # spotipy gives None for broken JSON, and some calls then fail on it
                problem = "malformed JSON"
            waits = 0
            failures += 1
            self.stats["retries"] += 1
            if failures > self.settings.max_retries:
                self.stats["failed_requests"] += 1
                raise SpotifyError(f"{endpoint}: {problem}, still after {self.settings.max_retries} retries")
            pause = self.settings.backoff * 2 ** (failures - 1)
            log.warning(
                "%s: %s; retry %d of %d in %.1f s", endpoint, problem, failures, self.settings.max_retries, pause
            )
            self.sleep(pause)

    def _token_refused(self, status: int | None, exc: Exception) -> SpotifyError:
        """The run-stopping error for a token endpoint answer that retrying cannot change."""
        if status in (None, 400, 401, 403):
            return SpotifyError(
                f"Spotify refused the app's credentials at {self.settings.token_url}: {exc}. "
                "Check SPOTIPY_CLIENT_ID and SPOTIPY_CLIENT_SECRET"
            )
        return SpotifyError(
            f"the token endpoint {self.settings.token_url} answered HTTP {status}: {exc}. Check spotify.token_url"
        )

    def _at_token_endpoint(self, exc: Exception) -> str:
        url = str(getattr(getattr(exc, "request", None), "url", "") or "")
        return " at the token endpoint" if url.startswith(self.settings.token_url) else ""

    def _wait_rate_limit(self, endpoint: str, headers: Mapping, waits: int) -> None:
        """Sleep the 429's Retry-After, this being the request's ``waits``-th 429 in a row; or raise
        QuotaExceeded when the Retry-After is missing or above the ceiling, or the waits too many."""
        raw = headers.get("Retry-After") or headers.get("retry-after")
        try:
            wait = float(raw)
        except (TypeError, ValueError):
            wait = None
        if wait is None or wait > self.settings.max_retry_after or wait < 0:
            raise QuotaExceeded(
                f"{endpoint}: Spotify answered 429 with Retry-After {raw!r}, beyond the ceiling "
                f"spotify.max_retry_after={self.settings.max_retry_after:g} s: the app's request quota looks spent. "
                + _STOPPING
            )
        if waits > self.settings.max_rate_limit_waits:
            raise QuotaExceeded(
                f"{endpoint}: Spotify still answered 429 after {self.settings.max_rate_limit_waits} rate-limit waits "
                f"in a row for one request (spotify.max_rate_limit_waits): the app's request quota looks spent. "
                + _STOPPING
            )
        self.stats["rate_limited"] += 1
        self.stats["waited_s"] += wait
        log.info("%s: rate limited, waiting %.0f s (Retry-After)", endpoint, wait)
        self.sleep(wait)

    def _close(self, endpoint: str, status: int) -> None:
        if endpoint not in self.closed:
            self.closed.add(endpoint)
            log.warning(
                "Spotify endpoint %r is closed to this app (HTTP %d): %s",
                endpoint,
                status,
                CLOSED_MEANING.get(endpoint, "it is skipped"),
            )

    # -- artists ----------------------------------------------------------------------------------------

    def artists(self, ids: Sequence[str], progress: ProgressFactory | None = None) -> list[dict]:
        """Artist objects for ``ids``, in batches of 50 when allowed, else one per call.

        Ids that are not Spotify ids are skipped before any request (``invalid_ids``, one warning);
        ids Spotify does not know are skipped too (``skipped_artists``).
        """
        wanted = self._valid_ids(ids)
        found = []
        with (progress or self.progress)("artists", len(wanted)) as bar:
            for batch in chunks(wanted, ARTISTS_BATCH):
                try:
                    answer = self._request("several-artists", lambda batch=batch: self.sp.artists(list(batch)))
                    for artist in answer.get("artists") or []:
                        if artist is None:
                            self.stats["skipped_artists"] += 1
                        else:
                            found.append(artist)
                    bar.advance(len(batch))
                    continue
                except EndpointClosed:
                    pass
                for artist_id in batch:
                    try:
                        found.append(self._request("artist", lambda artist_id=artist_id: self.sp.artist(artist_id)))
                    except NotFound:
                        self.stats["skipped_artists"] += 1
                    bar.advance()
        return found

    def _valid_ids(self, ids: Iterable[str]) -> list[str]:
        """The Spotify ids (22 base62 characters) among ``ids``; the others are counted and warned about once
        (spotipy would refuse them, and stop the run, before sending anything)."""
        valid, invalid = [], []
        for artist_id in ids:
            (valid if isinstance(artist_id, str) and SPOTIFY_ID.match(artist_id) else invalid).append(artist_id)
        if invalid:
            self.stats["invalid_ids"] += len(invalid)
            log.warning(
                "%d artist ids are not Spotify ids (22 letters and digits) and are skipped: %s%s",
                len(invalid),
                ", ".join(repr(i) for i in invalid[:5]),
                ", ..." if len(invalid) > 5 else "",
            )
        return valid

    def search_artist(self, name: str, other_script: bool = True) -> dict | None:
        """The artist a typed name means (search, market ``market``), or None.

        Search answers something for nearly any text, so only a hit close to the name is taken
        (``shared.names.closest_name``: same name key, else similar enough, else, with
        ``other_script``, Spotify's first hit when it is in another script).
        """
        try:
            answer = self._request(
                "search",
                lambda: self.sp.search(
                    q=name, type="artist", market=self.settings.market, limit=self.settings.search_limit
                ),
            )
        except EndpointClosed:
            return None
        items = [a for a in (answer.get("artists") or {}).get("items") or [] if a and a.get("id")]
        index = closest_name(name, [str(a.get("name") or "") for a in items], other_script=other_script)
        return None if index is None else items[index]

    def search_artist_ids(self, text: str, limit: int) -> list[str]:
        """The ids of the first ``limit`` artists a search for ``text`` returns, in Spotify's order
        (``[]`` when search is closed to this app)."""
        try:
            answer = self._request(
                "search",
                lambda: self.sp.search(
                    q=text, type="artist", market=self.settings.market, limit=max(1, min(int(limit), 50))
                ),
            )
        except EndpointClosed:
            return []
        items = (answer.get("artists") or {}).get("items") or []
        return [str(a["id"]) for a in items if isinstance(a, dict) and a.get("id")][:limit]

    # -- top tracks -------------------------------------------------------------------------------------

    def top_tracks(self, artist: Mapping) -> list[dict]:
        """The artist's top tracks, best first (at most ``top_tracks``)."""
        artist_id = artist["id"]
        try:
            answer = self._request(
                "top-tracks", lambda: self.sp.artist_top_tracks(artist_id, country=self.settings.market)
            )
            tracks = [t for t in answer.get("tracks") or [] if t]
        except EndpointClosed:
            tracks = self._searched_tracks(artist)
        except NotFound:
            tracks = []
        return tracks[: self.settings.top_tracks]

    def _searched_tracks(self, artist: Mapping) -> list[dict]:
        name = str(artist.get("name") or "").replace('"', " ")
        try:
            answer = self._request(
                "search",
                lambda: self.sp.search(
                    q=f'artist:"{name}"', type="track", market=self.settings.market, limit=self.settings.search_limit
                ),
            )
        except EndpointClosed:
            return []
        items = [
            t
            for t in (answer.get("tracks") or {}).get("items") or []
            if t and any(a.get("id") == artist["id"] for a in t.get("artists") or [])
        ]
        # Search order is relevance; popularity (when the app still gets it) makes a better rank.
        return (
            sorted(items, key=lambda t: -(t.get("popularity") or 0))
            if all(t.get("popularity") is not None for t in items)
            else items
        )

    # -- audio features ---------------------------------------------------------------------------------

    def audio_features(self, track_ids: Sequence[str], progress: ProgressFactory | None = None) -> list[dict]:
        """Feature rows (with ``source``), one per track that has some (the first answer wins); the
        tracks without are counted (``tracks_without_features``)."""
        progress = progress or self.progress
        rows, missing = [], []
        pending = list(dict.fromkeys(track_ids))
        with progress("audio features", len(pending)) as bar:
            for batch in chunks(pending, FEATURES_BATCH):
                try:
                    answer = self._request("audio-features", lambda batch=batch: self.sp.audio_features(list(batch)))
                except EndpointClosed:
                    missing.extend(batch)
                    bar.advance(len(batch))
                    continue
                wanted, got = set(batch), {}
                for features in answer or []:
                    if features and features.get("id") in wanted:
                        got.setdefault(features["id"], features)
                rows.extend(dict(f, source="spotify") for f in got.values())
                missing.extend(t for t in batch if t not in got)
                bar.advance(len(batch))
        if missing and self.settings.features_provider_url:
            rows.extend(self._provider_features(missing, progress))
        self.stats["tracks_without_features"] += len(pending) - len({r["id"] for r in rows})
        return rows

    def _provider_features(self, track_ids: Sequence[str], progress: ProgressFactory) -> list[dict]:
        """The provider's rows for ``track_ids`` (each id once, the first answer wins)."""
        url = self.settings.features_provider_url.rstrip("/") + "/audio-features"
        rows, seen = [], set()

        def fetch(batch):
            response = self.session.get(url, params={"ids": ",".join(batch)}, timeout=self.settings.timeout)
            if response.status_code >= 400:
                raise self._spotify_exception(response.status_code, -1, response.text[:200], headers=response.headers)
            try:
                return response.json()
            except ValueError:
                return None

        with progress("provider audio features", len(track_ids)) as bar:
            for batch in chunks(list(track_ids), self.settings.provider_batch):
                try:
                    answer = self._request("provider", lambda batch=batch: fetch(batch))
                except EndpointClosed:
                    break
                wanted = set(batch)
                for item in answer.get("content") or []:
                    href = str(item.get("href") or "")
                    track_id = (
                        href.rstrip("/").rsplit("/", 1)[-1] if "open.spotify.com/track/" in href else item.get("id")
                    )
                    if track_id in wanted and track_id not in seen:
                        seen.add(track_id)
                        rows.append(dict(item, id=track_id, source="provider"))
                bar.advance(len(batch))
        return rows
