"""A local skill server: HTTP requests become API Gateway (HTTP API v2) events for the Lambda handler.

    python -m chatbot_lambda.serve --mart jdbc:sqlite:data/mart.db --port 8080
    curl -s localhost:8080/skill -H 'Content-Type: application/json' \\
         -d '{"userRequest": {"utterance": "BTS", "user": {"id": "me"}}}'

``GET /`` serves the browser preview (``chatbot_lambda/preview``: plain HTML, CSS and JavaScript),
which draws the skill's replies the way KakaoTalk does and POSTs what is typed to ``/skill``.

Settings come from the same environment variables as on Lambda (see ``chatbot_lambda.settings``);
``--mart`` overrides MART_URL. Without REQUEST_KEY (or REQUEST_KEY_SECRET) in the environment, a run
makes a random key of its own (one log line says so, never the key): user hashes and alias offers
then hold for that run only.

What a client can hold, and for how long:

- A fixed pool of ``--workers`` threads (8) serves the connections; up to ``WAITING_PER_WORKER``
  times as many wait for one, and a connection beyond those is answered 503 at once and closed.
- A request's line and headers must all come within ``--header-timeout`` seconds (5) of the
  worker starting to wait for them (on a kept-alive connection, after the previous answer), and a
  body within ``--read-timeout`` seconds (10); no single read waits longer than that either. A
  client sending a byte now and then is cut off at those deadlines too.
- The handler answers one request at a time, like one Lambda container. A body over
  ``apigw.MAX_BODY_BYTES`` is answered "too long" from its Content-Length, without being read.

A POST is answered only when its Content-Type is ``application/json`` (else 415) and it carries no
``Origin`` header or this server's own (``http://HOST:PORT``; the loopback names too when HOST is a
loopback or any address), else 403: a web page elsewhere cannot post to the skill from a browser
(a form or ``text/plain`` fetch needs no CORS preflight). Both are refused with a short JSON
``{"error": ...}``, the body never given to the handler. Accepted sockets have Nagle's algorithm off
(TCP_NODELAY): an answer's headers and body go out as written, not 40 ms apart on a kept-alive
connection.
"""

from __future__ import annotations

import base64
import io
import ipaddress
import json
import logging
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import MutableMapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import resources

from chatbot_lambda import apigw, handler
from chatbot_lambda.answers import too_long_reply
from chatbot_lambda.settings import DEFAULT_MART_URL
from mart.url import mask
from shared.version import program_parser

log = logging.getLogger("chatbot_lambda.serve")

LAMBDA_TIMEOUT_MS = 5000
READ_TIMEOUT_SECONDS = 10.0
HEADER_TIMEOUT_SECONDS = 5.0  # a request line and headers are a few hundred bytes: any client sends them at once
WORKERS = 8  # the handler answers one at a time: more threads would only hold more sockets
WAITING_PER_WORKER = 4  # connections waiting for a worker, per worker; beyond them, 503
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
PREVIEW_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/preview.css": ("preview.css", "text/css; charset=utf-8"),
    "/preview.js": ("preview.js", "text/javascript; charset=utf-8"),
}


class LambdaContext:
    """The part of Lambda's context object the handler uses: the time left before its timeout."""

    def __init__(self, timeout_ms: int = LAMBDA_TIMEOUT_MS):
        self._end = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._end - time.monotonic()) * 1000))


def http_api_event(method: str, target: str, headers: dict[str, str], body: bytes) -> dict:
    """The HTTP API (payload 2.0) event API Gateway would hand the function for this request."""
    path, _, query = target.partition("?")
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "stage": "$default",
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def ensure_request_key(env: MutableMapping[str, str]) -> bool:
    """Give ``env`` a random REQUEST_KEY (32 random bytes, URL-safe) unless it has REQUEST_KEY or
    REQUEST_KEY_SECRET, and say so in one log line (without the key); True when one was made."""
    if env.get("REQUEST_KEY") or env.get("REQUEST_KEY_SECRET"):
        return False
    env["REQUEST_KEY"] = secrets.token_urlsafe(32)
    log.info(
        "REQUEST_KEY is not set: this run hashes user ids and signs alias offers with a random key of its "
        "own (set REQUEST_KEY to keep one across runs)"
    )
    return True


def own_origins(host: str, port: int) -> frozenset[str]:
    """The origins a page of this server has (``http://HOST:PORT``), for the ``Origin`` check: with the
    loopback names too when ``host`` is a loopback or any address (``make serve`` listens on 127.0.0.1,
    and a browser may open ``http://localhost:8080/``)."""
    names = {f"[{host}]" if ":" in host else host}
    try:
        local = (
            host in ("", "localhost")
            or ipaddress.ip_address(host).is_loopback
            or ipaddress.ip_address(host).is_unspecified
        )
    except ValueError:  # a host name
        local = False
    if local:
        names.update(LOOPBACK_NAMES)
    names.discard("")
    suffixes = [f":{port}", ""] if port == 80 else [f":{port}"]
    return frozenset(f"http://{name}{suffix}" for name in names for suffix in suffixes)


class DeadlineReader(io.RawIOBase):
    """A socket's reads, each waiting at most ``idle`` seconds, and none after ``deadline`` (a
    ``time.monotonic()`` value, or ``None``): past it a read raises ``TimeoutError``. The socket's
    timeout is ``idle`` again after each read (its writes use it too)."""

    def __init__(self, sock: socket.socket, idle: float):
        super().__init__()
        self._sock = sock
        self.idle = idle
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        wait = self.idle
        if self.deadline is not None:
            wait = min(wait, self.deadline - time.monotonic())
            if wait <= 0:
                raise TimeoutError("the deadline of this read has passed")
        self._sock.settimeout(wait)
        try:
            return self._sock.recv_into(buffer)
        finally:
            self._sock.settimeout(self.idle)


class SkillServer(HTTPServer):
    """An HTTP server whose connections are served by a fixed pool of ``workers`` threads; up to
    ``workers * WAITING_PER_WORKER`` accepted connections wait for one, and one more is answered 503
    at once and closed. Accepted sockets get TCP_NODELAY."""

    request_queue_size = 64  # the listen backlog: a burst is accepted (and answered 503), not left to SYN retries

    def __init__(self, address, handler_class, workers: int = WORKERS):
        super().__init__(address, handler_class)
        self.origins = own_origins(str(self.server_address[0]), int(self.server_address[1]))
        self._waiting: queue.Queue = queue.Queue(maxsize=workers * WAITING_PER_WORKER)
        self._workers = [
            threading.Thread(target=self._work, name=f"skill-worker-{n}", daemon=True) for n in range(workers)
        ]
        for worker in self._workers:
            worker.start()

    def get_request(self):
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    def process_request(self, request, client_address) -> None:
        try:
            self._waiting.put_nowait((request, client_address))
        except queue.Full:
            self._turn_away(request)

    def _turn_away(self, request) -> None:
        """503 and close, without waiting on the client (a fresh socket's send buffer takes the few bytes)."""
        body = json.dumps({"error": "busy: every worker is serving a connection and more are waiting; try again"})
        head = (
            f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
            f"\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        try:
            request.setblocking(False)
            request.send((head + body).encode("ascii"))
        except OSError:  # full, or the client has gone: the close below is the answer
            pass
        self.shutdown_request(request)

    def _work(self) -> None:
        while True:
            item = self._waiting.get()
            if item is None:
                return
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except Exception:  # any failure of one connection (logged by handle_error); the worker goes on
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        while True:  # connections still waiting are closed unanswered
            try:
                item = self._waiting.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self.shutdown_request(item[0])
        for _ in self._workers:
            try:
                self._waiting.put_nowait(None)
            except queue.Full:  # a worker is busy: it is a daemon thread, gone with the process
                break


class SkillHandler(BaseHTTPRequestHandler):
    """One connection: its request line and headers must all come within ``header_timeout`` seconds,
    a body within ``timeout`` seconds, no read waits longer than ``timeout``, else it is closed; a POST
    other than same-origin JSON is refused; the answer is computed under ``answering``, one at a time."""

    protocol_version = "HTTP/1.1"
    max_body = apigw.MAX_BODY_BYTES
    timeout = READ_TIMEOUT_SECONDS
    header_timeout = HEADER_TIMEOUT_SECONDS
    answering = threading.Lock()

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the socket's own file: replaced by one reading with deadlines
        self._reads = DeadlineReader(self.connection, self.timeout)
        self.rfile = io.BufferedReader(self._reads)

    def handle_one_request(self) -> None:
        self._reads.deadline = time.monotonic() + self.header_timeout
        try:
            super().handle_one_request()
        finally:
            self._reads.deadline = None

    def parse_request(self) -> bool:
        try:
            return super().parse_request()  # reads the headers, under the deadline set above
        finally:
            self._reads.deadline = None

    def do_GET(self) -> None:
        found = PREVIEW_FILES.get(self.path.split("?", 1)[0])
        if found is None:
            self.send_error(404, "not found: POST skill requests to /skill, or open / for the preview")
            return
        name, kind = found
        self._send(
            200,
            {"Content-Type": kind, "Cache-Control": "no-store"},
            resources.files("chatbot_lambda").joinpath("preview", name).read_bytes(),
        )

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "a Content-Length is needed")
            return
        origin = self.headers.get("Origin")
        if origin is not None and origin not in self.server.origins:
            self._refuse(403, "refused: a page of another origin may not post here", length)
            return
        if self.headers.get_content_type() != "application/json":
            self._refuse(415, "refused: the Content-Type must be application/json", length)
            return
        if length > self.max_body:  # answered as the Lambda would, from the header alone, body unread
            self.close_connection = True
            self._send(
                200,
                {"Content-Type": "application/json; charset=utf-8", "Connection": "close"},
                json.dumps(too_long_reply(), ensure_ascii=False).encode("utf-8"),
            )
            return
        body = self._read_body(length)
        if body is None:  # closed, or not all sent within the read timeout
            self.close_connection = True
            return
        event = http_api_event("POST", self.path, dict(self.headers.items()), body)
        with self.answering:
            response = handler.lambda_handler(event, LambdaContext())
        self._send(
            response.get("statusCode", 200), response.get("headers", {}), response.get("body", "").encode("utf-8")
        )

    def _read_body(self, length: int) -> bytes | None:
        """The body, read within ``timeout`` seconds in total (a client sending a byte now and then
        is cut off too); ``None`` when it did not all come in time."""
        self._reads.deadline = time.monotonic() + self.timeout
        try:
            data = self.rfile.read(length)
        except OSError:  # the deadline, or the client went away
            return None
        finally:
            self._reads.deadline = None
        return data if len(data) == length else None

    def _refuse(self, status: int, reason: str, length: int) -> None:
        """``status`` with ``{"error": reason}``, the connection closed. A body of ``length`` bytes up to
        ``max_body`` is read first and dropped (a socket closed with bytes unread is reset, and the
        client may lose the answer); a longer one is left unread."""
        if 0 < length <= self.max_body:
            self._read_body(length)
        self.close_connection = True
        self._send(
            status,
            {"Content-Type": "application/json", "Connection": "close"},
            json.dumps({"error": reason}).encode("utf-8"),
        )

    def _send(self, status: int, headers: dict, data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args) -> None:
        log.debug(fmt, *args)


def main(argv: list[str] | None = None) -> None:
    parser = program_parser(
        "python -m chatbot_lambda.serve",
        description="Run the Kakao skill locally: POST a skill request to "
        "http://HOST:PORT/<any path>, or open http://HOST:PORT/ in a browser for "
        "the chat preview. Settings come from the environment "
        "(MART_URL, MART_USER, MART_PASSWORD, SPOTIPY_CLIENT_ID, ...).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 picks one)")
    parser.add_argument("--mart", help=f"mart JDBC URL, overriding MART_URL (default {DEFAULT_MART_URL})")
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=READ_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"close a connection that sends nothing for this long, or whose body takes longer "
        f"(default {READ_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=HEADER_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"close a connection whose request line and headers take longer (default {HEADER_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=WORKERS,
        metavar="N",
        help=f"threads serving connections (default {WORKERS}); {WAITING_PER_WORKER} times as many "
        f"may wait, more are answered 503",
    )
    args = parser.parse_args(argv)
    if args.workers < 1 or args.read_timeout <= 0 or args.header_timeout <= 0:
        parser.error("--workers must be at least 1, and the timeouts more than 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.mart:
        os.environ["MART_URL"] = args.mart
    ensure_request_key(os.environ)
    SkillHandler.timeout = args.read_timeout
    SkillHandler.header_timeout = args.header_timeout
    server = SkillServer((args.host, args.port), SkillHandler, workers=args.workers)
    host, port = server.server_address[:2]
    print(
        f"skill server on http://{host}:{port}/skill (mart {mask(os.environ.get('MART_URL', DEFAULT_MART_URL))}); "
        f"browser preview on http://{host}:{port}/",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        handler.reset()


if __name__ == "__main__":
    main()
