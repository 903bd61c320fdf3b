"""API Gateway proxy events in, proxy responses out (REST API v1 and HTTP API v2 payloads)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

MAX_BODY_BYTES = 64 * 1024  # a skill request is about 1 KiB; anything far larger is refused unread


class BadEvent(ValueError):
    """The event is not an API Gateway proxy event this function can read."""


class BodyTooLarge(BadEvent):
    """The body is over ``MAX_BODY_BYTES`` (checked before it is decoded or parsed)."""


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    raw_body: str = ""
    base64_body: bool = False

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def text(self, limit: int = MAX_BODY_BYTES) -> str:
        """The body as text, decoded when base64-encoded; :class:`BodyTooLarge` when it is over ``limit``
        bytes (told from its length before anything is decoded), :class:`BadEvent` when it is not UTF-8 text."""
        size = len(self.raw_body)
        if size > (-(-limit // 3) * 4 if self.base64_body else limit):  # base64: 4 characters per 3 bytes
            raise BodyTooLarge(f"the event body is over {limit} bytes ({size} characters)")
        if not self.base64_body:
            if len(self.raw_body.encode("utf-8", "surrogatepass")) > limit:
                raise BodyTooLarge(f"the event body is over {limit} bytes")
            return self.raw_body
        try:
            data = base64.b64decode(self.raw_body, validate=True)
        except (binascii.Error, ValueError):
            raise BadEvent("the event body is not base64-encoded UTF-8 text") from None
        if len(data) > limit:
            raise BodyTooLarge(f"the event body is over {limit} bytes")
        try:
            return data.decode("utf-8")
        except ValueError:
            raise BadEvent("the event body is not base64-encoded UTF-8 text") from None


def parse_event(event: Any) -> HttpRequest:
    """The HTTP request inside an API Gateway proxy event (body not decoded yet: see ``HttpRequest.text``).

    Raises :class:`BadEvent` for anything that is not such an event.
    """
    if not isinstance(event, dict):
        raise BadEvent(f"the event is a {type(event).__name__}, not an API Gateway proxy event")
    context = event.get("requestContext") if isinstance(event.get("requestContext"), dict) else {}
    http = context.get("http") if isinstance(context.get("http"), dict) else {}
    method = str(http.get("method") or event.get("httpMethod") or "").upper()
    path = str(event.get("rawPath") or event.get("path") or http.get("path") or "/")
    if not method:
        raise BadEvent("the event has neither httpMethod (REST API) nor requestContext.http.method (HTTP API)")
    raw_headers = event.get("headers") if isinstance(event.get("headers"), dict) else {}
    headers = {str(k).lower(): str(v) for k, v in raw_headers.items() if v is not None}
    body = event.get("body")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise BadEvent("the event body is not a string")
    return HttpRequest(method, path, headers, body, bool(event.get("isBase64Encoded")))


def json_response(status: int, payload: Any) -> dict:
    """A proxy response (valid for both payload versions) carrying ``payload`` as JSON."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json; charset=utf-8"},
        "isBase64Encoded": False,
        "body": json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
    }
