"""A local skill server: HTTP requests become API Gateway (HTTP API v2) events for the Lambda handler.

    python -m chatbot_lambda.serve --mart jdbc:sqlite:data/mart.db --port 8080
    curl -s localhost:8080/skill -H 'Content-Type: application/json' \\
         -d '{"userRequest": {"utterance": "BTS", "user": {"id": "me"}}}'

Settings come from the same environment variables as on Lambda (see ``chatbot_lambda.settings``);
``--mart`` overrides MART_URL. One request at a time, like one Lambda container.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from chatbot_lambda import handler
from chatbot_lambda.settings import DEFAULT_MART_URL

LAMBDA_TIMEOUT_MS = 5000


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
    protocol_version = "HTTP/1.1"
    max_body = 1 << 20

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= self.max_body:
            self.send_error(400 if length < 0 else 413, "a Content-Length of 0 to 1 MiB is needed")
            return
        body = self.rfile.read(length)
        event = http_api_event("POST", self.path, dict(self.headers.items()), body)
        response = handler.lambda_handler(event, LambdaContext())
        data = response.get("body", "").encode("utf-8")
        self.send_response(response.get("statusCode", 200))
        for name, value in response.get("headers", {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args) -> None:
        logging.getLogger("chatbot_lambda.serve").debug(fmt, *args)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Kakao skill locally: POST a skill request to "
                                     "http://HOST:PORT/<any path>. Settings come from the environment "
                                     "(MART_URL, MART_USER, MART_PASSWORD, SPOTIPY_CLIENT_ID, ...).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 picks one)")
    parser.add_argument("--mart", help=f"mart JDBC URL, overriding MART_URL (default {DEFAULT_MART_URL})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.mart:
        os.environ["MART_URL"] = args.mart
    server = HTTPServer((args.host, args.port), SkillHandler)
    host, port = server.server_address[:2]
    print(f"skill server on http://{host}:{port}/skill (mart {os.environ.get('MART_URL', DEFAULT_MART_URL)})",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        handler.reset()


if __name__ == "__main__":
    main()
