"""A fake Spotify Web API on 127.0.0.1, for tests and the ingest benchmark.

Serves the client-credentials token endpoint, search, several artists, one artist,
an artist's top tracks, audio features, and a ReccoBeats-style audio-features
provider, from a deterministic catalog. Switches make an endpoint closed (403),
rate-limited (429 + Retry-After), slow, failing (5xx), malformed, cut off mid-body, trickling
(the body, or the status line and headers, one byte at a time), oversized (a body of many MiB),
or answer given statuses (the token endpoint too: 429, 5xx, or 400 invalid_client). Artist
search is loose like the real one: a name that no artist's name contains still gets the artists
sharing a word or the first three letters with it::

    with FakeSpotify(Catalog.generate(100)) as api:
        api.closed.add("top-tracks")
        ... spotipy pointed at api.api_url and api.token_url ...

Standalone (benchmark): ``python -m tests.support.fake_spotify --artists 10000 --rate 600 --port 8765``.

Over 300 lines: a whole fake Web API (catalog, auth, rate limits, faults) kept in one place.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

OVERSIZED = 64 << 20
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
FEATURES = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
    "time_signature",
)


def spotify_id(rng: random.Random) -> str:
    return "".join(rng.choice(_B62) for _ in range(22))


@dataclass
class Catalog:
    """Artists (Spotify JSON), their tracks by popularity, and the tracks' audio features."""

    artists: dict[str, dict]
    tracks: dict[str, list[dict]]
    features: dict[str, dict]

    @classmethod
    def generate(cls, n: int, tracks_per_artist: int = 10, seed: int = 1) -> Catalog:
        rng = random.Random(seed)
        artists, tracks, features = {}, {}, {}
        for i in range(n):
            artist_id = spotify_id(rng)
            artists[artist_id] = {
                "id": artist_id,
                "name": f"Fake Artist {i}",
                "type": "artist",
                "genres": [f"genre {i % 9}"],
                "popularity": rng.randint(0, 100),
                "followers": {"total": rng.randint(0, 10**6)},
                "images": [{"url": f"https://i.test/{artist_id}", "height": 640, "width": 640}],
                "external_urls": {"spotify": f"https://open.spotify.com/artist/{artist_id}"},
            }
            own = []
            for t in range(tracks_per_artist):
                track_id = spotify_id(rng)
                own.append(
                    {
                        "id": track_id,
                        "name": f"Song {t} by {i}",
                        "popularity": 100 - t,
                        "duration_ms": 180000 + t,
                        "artists": [{"id": artist_id, "name": artists[artist_id]["name"]}],
                        "album": {"name": f"Album {i}", "images": [{"url": f"https://i.test/album/{i}"}]},
                        "external_urls": {"spotify": f"https://open.spotify.com/track/{track_id}"},
                    }
                )
                features[track_id] = {
                    "id": track_id,
                    "danceability": rng.random(),
                    "energy": rng.random(),
                    "key": rng.randint(0, 11),
                    "loudness": -rng.random() * 30,
                    "mode": rng.randint(0, 1),
                    "speechiness": rng.random() / 3,
                    "acousticness": rng.random(),
                    "instrumentalness": rng.random() / 2,
                    "liveness": rng.random(),
                    "valence": rng.random(),
                    "tempo": 60 + rng.random() * 120,
                    "duration_ms": 180000 + t,
                    "time_signature": 4,
                }
            tracks[artist_id] = own
        return cls(artists, tracks, features)


@dataclass
class Switches:
    """What the fake does wrong; change them at any time (thread-safe enough for tests)."""

    closed: set = field(default_factory=set)  # endpoint names answering 403
    rate: int | None = None  # requests allowed per window, then 429
    window: float = 30.0
    retry_after: int | None = None  # Retry-After to send (default: until the window frees)
    slow: dict = field(default_factory=dict)  # endpoint -> seconds to wait before answering
    fail: Counter = field(default_factory=Counter)  # endpoint -> next N answers are 503
    malformed: Counter = field(default_factory=Counter)  # endpoint -> next N answers are broken JSON
    search_limit: int = 10  # development-mode cap on search's limit
    answers: dict = field(default_factory=dict)  # endpoint -> statuses of its next answers, in order
    #   (429 carries Retry-After retry_after or 1; 400/401 on the token endpoint say invalid_client)
    cut: Counter = field(default_factory=Counter)  # endpoint -> next N bodies end early, connection closed
    garbled: Counter = field(default_factory=Counter)  # endpoint -> next N say gzip and are not
    trickle: Counter = field(default_factory=Counter)  # endpoint -> next N bodies come one byte at a time,
    trickle_pause: float = 0.05  #   this many seconds apart (each read sees a byte soon)
    trickle_head: Counter = field(default_factory=Counter)  # endpoint -> next N status lines and headers
    #   come one byte at a time, trickle_pause apart
    oversized: Counter = field(default_factory=Counter)  # endpoint -> next N bodies are padded to OVERSIZED
    #   bytes (valid JSON when read whole), sent until the client hangs up
    duplicated: set = field(default_factory=set)  # endpoints ("audio-features", "provider") answering
    #   each row twice, the second copy with danceability -1.0
    hits: dict = field(default_factory=dict)  # artist search text -> artist ids answered first
    #   (a real search answers 아이유 with IU, and nearly any text with something)


class FakeSpotify:
    """The HTTP server: start it with ``with``; ``calls`` counts requests per endpoint."""

    def __init__(self, catalog: Catalog, port: int = 0, switches: Switches | None = None):
        self.catalog = catalog
        self.switches = switches or Switches()
        self.calls: Counter = Counter()
        self.queries: list[tuple[str, dict]] = []  # (endpoint, query parameters) of each request
        self._recent: deque = deque()
        self._lock = threading.Lock()
        self._by_name = {a["name"].casefold(): a for a in catalog.artists.values()}
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        # A short poll: shutdown() waits up to one poll interval for the serving loop to notice.
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/v1/"

    @property
    def token_url(self) -> str:
        return f"{self.base}/api/token"

    @property
    def provider_url(self) -> str:
        return f"{self.base}/provider/v1/"

    def __enter__(self) -> FakeSpotify:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def admit(self) -> int | None:
        """None when the request may go on, else the Retry-After seconds of a 429."""
        s = self.switches
        if s.rate is None:
            return None
        now = time.monotonic()
        with self._lock:
            while self._recent and now - self._recent[0] >= s.window:
                self._recent.popleft()
            if len(self._recent) < s.rate:
                self._recent.append(now)
                return None
            wait = s.window - (now - self._recent[0]) if self._recent else s.window  # rate 0: always 429
        return s.retry_after if s.retry_after is not None else max(1, int(wait + 0.999))


_ROUTES = [
    ("token", "POST", re.compile(r"^/api/token$")),
    ("several-artists", "GET", re.compile(r"^/v1/artists/?$")),
    ("top-tracks", "GET", re.compile(r"^/v1/artists/(\w+)/top-tracks/?$")),
    ("artist", "GET", re.compile(r"^/v1/artists/(\w+)/?$")),
    ("audio-features", "GET", re.compile(r"^/v1/audio-features/?$")),
    ("search", "GET", re.compile(r"^/v1/search/?$")),
    ("provider", "GET", re.compile(r"^/provider/v1/audio-features/?$")),
]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSpotify
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once, as from a real server

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        self._route("POST")

    def do_GET(self) -> None:
        self._route("GET")

    def _send(self, status: int, body, headers: dict | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        name, s = getattr(self, "endpoint", ""), self.fake.switches
        cut = status == 200 and s.cut[name] > 0
        garbled = status == 200 and not cut and s.garbled[name] > 0
        if status == 200 and not cut and s.oversized[name] > 0:
            s.oversized[name] -= 1
            return self._send_oversized(data)
        trickle = status == 200 and not cut and s.trickle[name] > 0
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data) + 100 if cut else len(data)))
        if garbled:
            s.garbled[name] -= 1
            self.send_header("Content-Encoding", "gzip")
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        if s.trickle_head[name] > 0:
            s.trickle_head[name] -= 1
            self.close_connection = True
            head, self._headers_buffer = b"".join(self._headers_buffer) + b"\r\n", []
            if not self._trickle(head, s.trickle_pause):
                return
        else:
            self.end_headers()
        if cut:  # a connection reset mid-body: less than Content-Length, then the end
            s.cut[name] -= 1
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if trickle:
            s.trickle[name] -= 1
            self.close_connection = True
            self._trickle(data, s.trickle_pause)
            return
        self.wfile.write(data)

    def _trickle(self, data: bytes, pause: float) -> bool:
        """Send ``data`` one byte at a time, ``pause`` seconds apart; False when the client gave up."""
        try:
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                time.sleep(pause)
        except OSError:
            return False
        return True

    def _send_oversized(self, data: bytes) -> None:
        """``data`` (a JSON object) with a padding member making it ``OVERSIZED`` bytes long."""
        head, tail = data[:-1] + b', "padding": "', b'"}'
        pad = OVERSIZED - len(head) - len(tail)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(OVERSIZED))
        self.end_headers()
        self.close_connection = True
        chunk = b"x" * (1 << 16)
        try:
            self.wfile.write(head)
            while pad > 0:
                self.wfile.write(chunk[:pad])
                pad -= len(chunk)
            self.wfile.write(tail)
        except OSError:  # the client gave up
            pass

    def _error(self, status: int, message: str, headers: dict | None = None) -> None:
        self._send(status, {"error": {"status": status, "message": message}}, headers)

    def _route(self, method: str) -> None:
        self.endpoint = ""
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
        for name, verb, pattern in _ROUTES:  # noqa: B007 (the matched route's name is used after the loop)
            match = pattern.match(parts.path)
            if match and verb == method:
                break
        else:
            return self._error(404, "Service not found")
        fake, s = self.fake, self.fake.switches
        self.endpoint = name
        fake.calls[name] += 1
        fake.queries.append((name, query))
        if name != "token":
            if name != "provider" and not self.headers.get("Authorization", "").startswith("Bearer "):
                return self._error(401, "No token provided")
            retry_after = fake.admit()
            if retry_after is not None:
                fake.calls["429"] += 1
                return self._error(429, "API rate limit exceeded", {"Retry-After": retry_after})
        if s.slow.get(name):
            time.sleep(s.slow[name])
        if name in s.closed:
            return self._error(403, "Forbidden")
        if s.answers.get(name):
            return self._scripted(name, s.answers[name].pop(0))
        if s.fail[name] > 0:
            s.fail[name] -= 1
            return self._error(503, "Service unavailable")
        if s.malformed[name] > 0:
            s.malformed[name] -= 1
            return self._send(200, b'{"artists": [{"id": ')
        getattr(self, "_" + name.replace("-", "_"))(query, *match.groups())

    def _scripted(self, name: str, status: int) -> None:
        if status == 429:
            wait = self.fake.switches.retry_after
            return self._error(429, "API rate limit exceeded", {"Retry-After": 1 if wait is None else wait})
        if name == "token" and status in (400, 401):
            return self._send(status, {"error": "invalid_client", "error_description": "Invalid client"})
        self._error(status, "Scripted answer")

    def _token(self, query) -> None:
        self._send(200, {"access_token": "fake-token", "token_type": "Bearer", "expires_in": 3600})

    def _ids(self, query, limit: int) -> list[str] | None:
        ids = [i for i in query.get("ids", "").split(",") if i]
        if not ids or len(ids) > limit:
            self._error(400, f"ids: between 1 and {limit}")
            return None
        return ids

    def _several_artists(self, query) -> None:
        ids = self._ids(query, 50)
        if ids is not None:
            self._send(200, {"artists": [self.fake.catalog.artists.get(i) for i in ids]})

    def _artist(self, query, artist_id) -> None:
        found = self.fake.catalog.artists.get(artist_id)
        self._send(200, found) if found else self._error(404, "Resource not found")

    def _top_tracks(self, query, artist_id) -> None:
        if artist_id not in self.fake.catalog.artists:
            return self._error(404, "Resource not found")
        self._send(200, {"tracks": self.fake.catalog.tracks[artist_id]})

    def _audio_features(self, query) -> None:
        ids = self._ids(query, 100)
        if ids is not None:
            found = [self.fake.catalog.features.get(i) for i in ids]
            self._send(
                200,
                {"audio_features": self._twice(found) if "audio-features" in self.fake.switches.duplicated else found},
            )

    def _provider(self, query) -> None:
        ids = self._ids(query, 40)
        if ids is None:
            return
        content = []
        for track_id in ids:
            found = self.fake.catalog.features.get(track_id)
            if found:
                content.append(
                    {
                        **{k: v for k, v in found.items() if k != "id"},
                        "id": f"rb-{track_id}",
                        "href": f"https://open.spotify.com/track/{track_id}",
                    }
                )
        self._send(200, {"content": self._twice(content) if "provider" in self.fake.switches.duplicated else content})

    @staticmethod
    def _twice(rows: list) -> list:
        """Each row, then a copy of it with an impossible danceability (a provider answering twice)."""
        return [copy for row in rows for copy in ((row, dict(row, danceability=-1.0)) if row else (row,))]

    def _search(self, query) -> None:
        limit = int(query.get("limit", 10))
        if limit > self.fake.switches.search_limit:
            return self._error(400, "Invalid limit")
        q, kind = query.get("q", ""), query.get("type", "track")
        catalog = self.fake.catalog
        artist_filter = re.match(r'^artist:"?(.*?)"?$', q)
        name = (artist_filter.group(1) if artist_filter else q).casefold()
        if kind == "artist":
            scripted = [catalog.artists[i] for i in self.fake.switches.hits.get(q.strip(), []) if i in catalog.artists]
            if scripted:
                return self._send(200, {"artists": {"items": scripted[:limit], "total": len(scripted)}})
            hits = [a for a in catalog.artists.values() if name and name in a["name"].casefold()]
            hits.sort(key=lambda a: (a["name"].casefold() != name, -a["popularity"]))
            if not hits and name:
                hits = _loose_hits(catalog, name)
            return self._send(200, {"artists": {"items": hits[:limit], "total": len(hits)}})
        artist = self.fake._by_name.get(name)
        items = catalog.tracks[artist["id"]][:limit] if artist else []
        self._send(200, {"tracks": {"items": items, "total": len(items)}})


def _loose_hits(catalog: Catalog, name: str) -> list[dict]:
    """Artists sharing a word or the first three letters with ``name`` (casefolded): the most words
    shared first, then the most popular, as a fuzzy search answers something for nearly anything."""
    words = set(name.split())
    scored = []
    for artist in catalog.artists.values():
        own = artist["name"].casefold()
        shared = len(words & set(own.split()))
        if shared or own[:3] == name[:3]:
            scored.append((-shared, -artist["popularity"], artist["name"], artist))
    return [artist for *_, artist in sorted(scored, key=lambda row: row[:3])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artists", type=int, default=1000)
    parser.add_argument("--rate", type=int, help="requests allowed per --window seconds (default: unlimited)")
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--ids-file", help="write the catalog's artist ids here, one per line")
    args = parser.parse_args()
    catalog = Catalog.generate(args.artists)
    if args.ids_file:
        with open(args.ids_file, "w") as out:
            out.write("\n".join(catalog.artists) + "\n")
    with FakeSpotify(catalog, args.port, Switches(rate=args.rate, window=args.window)) as api:
        print(f"fake Spotify at {api.api_url} (token {api.token_url}, provider {api.provider_url})", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
