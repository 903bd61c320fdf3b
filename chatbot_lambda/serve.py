"""A local skill server: HTTP requests become API Gateway (HTTP API v2) events for the Lambda handler.

    python -m chatbot_lambda.serve --mart jdbc:sqlite:data/mart.db --port 8080
    curl -s localhost:8080/skill -H 'Content-Type: application/json' \\
         -d '{"userRequest": {"utterance": "BTS", "user": {"id": "me"}}}'

``GET /`` serves the browser preview (``chatbot_lambda/preview``: plain HTML, CSS and JavaScript),
which draws the skill's replies the way KakaoTalk does and POSTs what is typed to ``/skill``.

Settings come from the same environment variables as on Lambda (see ``chatbot_lambda.settings``);
``--mart`` overrides MART_URL. Each connection is served on its own thread and reads with a timeout
(``--read-timeout``), so an idle or short-bodied client never holds up the others; the handler itself
answers one request at a time, like one Lambda container. A body over ``apigw.MAX_BODY_BYTES`` is
answered "too long" from its Content-Length, without being read.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from chatbot_lambda import apigw, handler
from chatbot_lambda.answers import too_long_reply
from chatbot_lambda.settings import DEFAULT_MART_URL
from mart.url import mask

LAMBDA_TIMEOUT_MS = 5000
READ_TIMEOUT_SECONDS = 10.0
PREVIEW_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
                 "/index.html": ("index.html", "text/html; charset=utf-8"),
                 "/preview.css": ("preview.css", "text/css; charset=utf-8"),
                 "/preview.js": ("preview.js", "text/javascript; charset=utf-8")}


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
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": query,
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "127.0.0.1"}, "stage": "$default"},
        "body": text, "isBase64Encoded": encoded,
    }


class SkillHandler(BaseHTTPRequestHandler):
    """One connection: its socket reads time out after ``timeout`` seconds (the request line and
    headers), and its body must all come within ``timeout`` seconds, else it is closed; the answer is computed under ``answering``, one at a time."""

    protocol_version = "HTTP/1.1"
    max_body = apigw.MAX_BODY_BYTES
    timeout = READ_TIMEOUT_SECONDS
    answering = threading.Lock()

    def do_GET(self) -> None:
        found = PREVIEW_FILES.get(self.path.split("?", 1)[0])
        if found is None:
            self.send_error(404, "not found: POST skill requests to /skill, or open / for the preview")
            return
        name, kind = found
        self._send(200, {"Content-Type": kind, "Cache-Control": "no-store"},
                   resources.files("chatbot_lambda").joinpath("preview", name).read_bytes())

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "a Content-Length is needed")
            return
        if length > self.max_body:      # answered as the Lambda would, from the header alone, body unread
            self.close_connection = True
            self._send(200, {"Content-Type": "application/json; charset=utf-8", "Connection": "close"},
                       json.dumps(too_long_reply(), ensure_ascii=False).encode("utf-8"))
            return
        body = self._read_body(length)
        if body is None:                # closed, or not all sent within the read timeout
            self.close_connection = True
            return
        event = http_api_event("POST", self.path, dict(self.headers.items()), body)
        with self.answering:
            response = handler.lambda_handler(event, LambdaContext())
        self._send(response.get("statusCode", 200), response.get("headers", {}),
                   response.get("body", "").encode("utf-8"))

    def _read_body(self, length: int) -> bytes | None:
        """The body, read within ``timeout`` seconds in total (a client sending a byte now and then
        is cut off too); ``None`` when it did not all come in time."""
        end = time.monotonic() + self.timeout
        data = bytearray()
        try:
            while len(data) < length:
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.connection.settimeout(left)
                chunk = self.rfile.read1(length - len(data))
                if not chunk:
                    return None
                data += chunk
        except OSError:                 # the timeout, or the client went away
            return None
        finally:
            self.connection.settimeout(self.timeout)
        return bytes(data)

    def _send(self, status: int, headers: dict, data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args) -> None:
        logging.getLogger("chatbot_lambda.serve").debug(fmt, *args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Kakao skill locally: POST a skill request to "
                                     "http://HOST:PORT/<any path>, or open http://HOST:PORT/ in a browser for "
                                     "the chat preview. Settings come from the environment "
                                     "(MART_URL, MART_USER, MART_PASSWORD, SPOTIPY_CLIENT_ID, ...).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 picks one)")
    parser.add_argument("--mart", help=f"mart JDBC URL, overriding MART_URL (default {DEFAULT_MART_URL})")
    parser.add_argument("--read-timeout", type=float, default=READ_TIMEOUT_SECONDS, metavar="SECONDS",
                        help=f"close a connection that sends nothing for this long (default {READ_TIMEOUT_SECONDS:g})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.mart:
        os.environ["MART_URL"] = args.mart
    SkillHandler.timeout = args.read_timeout
    server = ThreadingHTTPServer((args.host, args.port), SkillHandler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"skill server on http://{host}:{port}/skill (mart {mask(os.environ.get('MART_URL', DEFAULT_MART_URL))}); "
          f"browser preview on http://{host}:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        handler.reset()


if __name__ == "__main__":
    main()
