"""Live Spotify Web API lookups for artists the mart does not know, within the answer's time budget.

Standard library HTTP only (small zip, fast cold start). Every request gets one total timeout for
the whole exchange (``chatbot_lambda.exchange``: however slowly the answer trickles in), cut to
the time budget, and a cap on its body; nothing sleeps. A 429 makes the client stay away until its Retry-After has passed; a
closed endpoint (403/404 on top tracks, as for development-mode apps) is remembered, and track
search by artist stands in for it. The token (client credentials) is kept across warm invocations.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from chatbot_lambda.budget import Deadline, OutOfTime
from chatbot_lambda.exchange import MAX_BODY_BYTES, TooLarge, exchange
from chatbot_lambda.settings import Settings
from shared.names import closest_name, name_key, other_script_hit

log = logging.getLogger(__name__)


class SpotifyUnavailable(RuntimeError):
    """Spotify could not answer now (down, slow, rate-limited, refused the credentials, odd reply)."""


@dataclass(frozen=True)
class LiveTrack:
    name: str
    album_name: str
    image_url: str


@dataclass(frozen=True)
class LiveArtist:
    artist_id: str
    name: str
    image_url: str
    spotify_url: str
    tracks: list[LiveTrack] = field(default_factory=list)


def _first_image(images) -> str:
    if isinstance(images, list) and images and isinstance(images[0], dict):
        return str(images[0].get("url") or "")
    return ""


def best_hit(typed: str, hits: list[dict]) -> dict | None:
    """The search hit that is the artist the user meant, or ``None`` (rule: ``shared.names.closest_name``).

    Spotify's search is fuzzy and nearly always returns something, so a hit must be close to what
    was typed: an exact key, else the most similar key scoring at least 0.8. A hit in another script
    (아이유 and IU) is not taken here: see :func:`offered_hit`.
    """
    index = closest_name(typed, [str(hit["name"]) for hit in hits], other_script=False)
    return None if index is None else hits[index]


def offered_hit(typed: str, hits: list[dict]) -> dict | None:
    """Spotify's first hit when it is written in another script than what was typed (아이유 -> IU):
    maybe the artist meant, maybe not (안녕하세요 finds some Latin-script band), so it is only
    offered to the user, who confirms it or not."""
    return hits[0] if hits and other_script_hit(typed, str(hits[0]["name"])) else None


def distinct_tracks(tracks: list, name=lambda track: track.name) -> list:
    """``tracks`` without repeats of a title (a single and its album version): the first of each is kept."""
    seen, kept = set(), []
    for track in tracks:
        key = name_key(name(track) or "")
        if key and key not in seen:
            seen.add(key)
            kept.append(track)
    return kept


@dataclass(frozen=True)
class Lookup:
    """What a search found: the artist meant (with tracks), or one to offer, or neither."""

    artist: LiveArtist | None = None
    offer: LiveArtist | None = None


class SpotifyClient:
    """Search an artist and its tracks (market from settings), as one bounded lookup."""

    def __init__(self, settings: Settings, clock=time.monotonic):
        self.settings = settings
        self._clock = clock
        self._token: str = ""
        self._token_until = 0.0
        self._away_until = 0.0  # after a 429: no calls before this (monotonic seconds)
        self.closed: set[str] = set()  # endpoints found closed to this app

    def lookup(self, name: str, deadline: Deadline, tracks: int = 3) -> Lookup:
        """Search ``name``: the artist meant with up to ``tracks`` distinct tracks, or a hit in another
        script to offer (without tracks), or neither."""
        hits = self._search(name, deadline)
        best = best_hit(name, hits)
        if best is not None:
            return Lookup(artist=self._with_tracks(best, deadline, tracks))
        offered = offered_hit(name, hits)
        return Lookup(offer=_live(offered, [])) if offered is not None else Lookup()

    def find_artist(self, name: str, deadline: Deadline, tracks: int = 3) -> LiveArtist | None:
        """The artist ``name`` means (a close hit) with up to ``tracks`` tracks; ``None`` when Spotify has none."""
        return self.lookup(name, deadline, tracks).artist

    def artist_by_id(self, artist_id: str, deadline: Deadline, tracks: int = 3) -> LiveArtist | None:
        """The artist with this Spotify id, with up to ``tracks`` tracks; ``None`` when Spotify has none."""
        self._check_away()
        try:
            found = self._get(f"artists/{urllib.parse.quote(artist_id)}", {}, deadline, missing_ok=True)
        except _Closed:
            return None
        if not found.get("id") or not found.get("name"):
            return None
        return self._with_tracks(found, deadline, tracks)

    def _search(self, name: str, deadline: Deadline) -> list[dict]:
        self._check_away()
        found = self._get(
            "search", {"q": name, "type": "artist", "limit": 5, "market": self.settings.spotify_market}, deadline
        )
        items = found.get("artists", {}).get("items") if isinstance(found.get("artists"), dict) else None
        return [item for item in items or [] if isinstance(item, dict) and item.get("id") and item.get("name")]

    def _check_away(self) -> None:
        if self._clock() < self._away_until:
            raise SpotifyUnavailable(f"rate-limited, waiting {self._away_until - self._clock():.0f} s more")

    def _with_tracks(self, artist: dict, deadline: Deadline, tracks: int) -> LiveArtist:
        try:
            found = distinct_tracks(self._tracks(artist, deadline))[:tracks]
        except (SpotifyUnavailable, OutOfTime) as exc:  # the artist is still worth answering and recording
            log.warning("no tracks for %s from Spotify: %s", artist["name"], exc)
            found = []
        return _live(artist, found)

    def _tracks(self, artist: dict, deadline: Deadline) -> list[LiveTrack]:
        raw: list = []
        if "top-tracks" not in self.closed:
            try:
                raw = (
                    self._get(
                        f"artists/{urllib.parse.quote(artist['id'])}/top-tracks",
                        {"market": self.settings.spotify_market},
                        deadline,
                    ).get("tracks")
                    or []
                )
            except _Closed:
                self.closed.add("top-tracks")
                log.warning("Spotify top tracks are closed to this app: searching tracks by artist instead")
        if "top-tracks" in self.closed:
            found = self._get(
                "search",
                {
                    "q": f'artist:"{artist["name"]}"',
                    "type": "track",
                    "limit": 10,
                    "market": self.settings.spotify_market,
                },
                deadline,
            )
            items = found.get("tracks", {}).get("items") if isinstance(found.get("tracks"), dict) else None
            raw = [
                t
                for t in items or []
                if isinstance(t, dict)
                and any(isinstance(a, dict) and a.get("id") == artist["id"] for a in t.get("artists") or [])
            ]
        tracks = []
        for track in raw if isinstance(raw, list) else []:
            if isinstance(track, dict) and track.get("name"):
                album = track.get("album") if isinstance(track.get("album"), dict) else {}
                tracks.append(
                    LiveTrack(str(track["name"]), str(album.get("name") or ""), _first_image(album.get("images")))
                )
        return tracks

    # -- HTTP ----------------------------------------------------------------------------------------------

    def _get(self, path: str, params: dict, deadline: Deadline, missing_ok: bool = False) -> dict:
        for attempt in (1, 2):
            token = self._access_token(deadline)
            url = urllib.parse.urljoin(self.settings.spotify_api_url, path) + "?" + urllib.parse.urlencode(params)
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            status, body = self._send(request, deadline)
            if status == 401 and attempt == 1:  # the token expired early: one fresh token
                self._token_until = 0.0
                continue
            if status in (403, 404) and (path.endswith("top-tracks") or missing_ok):
                raise _Closed(path)
            if status != 200:
                raise SpotifyUnavailable(f"GET {path} answered {status}")
            return body
        raise SpotifyUnavailable(f"GET {path}: the token was refused twice")

    def _access_token(self, deadline: Deadline) -> str:
        if self._token and self._clock() < self._token_until:
            return self._token
        s = self.settings
        basic = base64.b64encode(f"{s.spotify_client_id}:{s.spotify_client_secret}".encode()).decode()
        request = urllib.request.Request(
            s.spotify_token_url,
            data=b"grant_type=client_credentials",
            method="POST",
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        )
        status, body = self._send(request, deadline)
        token = body.get("access_token") if status == 200 else None
        if not isinstance(token, str) or not token:
            raise SpotifyUnavailable(f"the token endpoint answered {status} without an access token")
        expires = body.get("expires_in")
        self._token = token
        self._token_until = self._clock() + (float(expires) if isinstance(expires, (int, float)) else 3600) - 60
        return token

    def _send(self, request: urllib.request.Request, deadline: Deadline) -> tuple[int, dict]:
        """``(status, JSON object)`` of one request; raises SpotifyUnavailable on 429, 5xx, timeouts, bad JSON.

        The whole exchange (connect, headers, body) has one total timeout (``spotify_timeout``, cut to
        the budget), not one per read: an answer trickling in byte by byte is cut off at that time, and
        a body over ``MAX_BODY_BYTES`` is refused without being read whole.
        """
        timeout = deadline.timeout(self.settings.spotify_timeout)
        what = f"{request.get_method()} {urllib.parse.urlsplit(request.full_url).path}"
        try:
            status, headers, data = exchange(request, timeout)
        except TooLarge as exc:
            raise SpotifyUnavailable(f"{what} answered a body over {MAX_BODY_BYTES} bytes ({exc})") from None
        except (http.client.HTTPException, OSError, ValueError) as exc:  # timeouts are OSErrors
            raise SpotifyUnavailable(
                f"{what} failed after at most {timeout:.2f} s: {exc or type(exc).__name__}"
            ) from None
        if status == 429:
            wait = _seconds(headers.get("Retry-After"))
            self._away_until = self._clock() + wait
            raise SpotifyUnavailable(f"{what} rate-limited (429, Retry-After {wait:.0f} s)")
        if status >= 500:
            raise SpotifyUnavailable(f"{what} answered {status}")
        if status != 200:
            return status, {}
        try:
            body = json.loads(data)
        except ValueError:
            raise SpotifyUnavailable(f"{what} answered {status} with a body that is not JSON") from None
        if not isinstance(body, dict):
            raise SpotifyUnavailable(f"{what} answered {status} with JSON that is not an object")
        return status, body


class _Closed(Exception):
    """An endpoint answered 403/404: closed to this app."""


def _live(artist: dict, tracks: list[LiveTrack]) -> LiveArtist:
    return LiveArtist(
        str(artist["id"]),
        str(artist["name"]),
        _first_image(artist.get("images")),
        str((artist.get("external_urls") or {}).get("spotify") or ""),
        tracks,
    )


def _seconds(text: str | None) -> float:
    try:
        return min(max(float(text or 1), 1.0), 3600.0)
    except ValueError:
        return 30.0
