"""A requests session whose every answer is read against one total deadline and a size cap.

requests (and urllib3 under it) apply their read timeout to each read from the socket: a server
sending a byte now and then keeps a request alive for as long as it likes. :class:`BoundedAdapter`
reads each body itself, a chunk as soon as it arrives, and gives up once the request has taken
``total`` seconds (``requests.exceptions.ReadTimeout``, which callers treat like any timeout) or
the body passes ``max_body`` bytes (:class:`BodyTooLarge`, decoded bytes: a compressed bomb counts
at its real size). The waits before the answer's headers keep requests' own per-read timeouts,
cut to ``total``.
"""

from __future__ import annotations

import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

CHUNK = 1 << 16


class BodyTooLarge(requests.exceptions.RequestException):
    """The answer's body is longer than the adapter's ``max_body`` bytes."""


class BoundedAdapter(HTTPAdapter):
    """An HTTPAdapter bounding each exchange in time (``total`` seconds) and body size (``max_body``)."""

    def __init__(self, total: float, max_body: int, **kwargs):
        super().__init__(**kwargs)
        self.total, self.max_body = total, max_body

    def send(self, request, stream=False, timeout=None, **kwargs):
        end = time.monotonic() + self.total
        response = super().send(request, stream=True, timeout=_cut(timeout, self.total), **kwargs)
        try:
            response._content = self._read(response, end)
        except BaseException:
            response.close()
            raise
        response._content_consumed = True
        response.raw.release_conn()
        return response

    def _read(self, response: requests.Response, end: float) -> bytes:
        where = f"{response.request.method} {response.url}"
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_body:
            raise BodyTooLarge(f"{where} announced a body of {length} bytes, over the cap of {self.max_body}",
                               response=response)
        data = bytearray()
        try:
            while True:
                chunk = response.raw.read1(CHUNK, decode_content=True)
                if not chunk:
                    return bytes(data)
                data += chunk
                if len(data) > self.max_body:
                    raise BodyTooLarge(f"{where} sent a body over the cap of {self.max_body} bytes",
                                       response=response)
                if time.monotonic() > end:
                    raise requests.exceptions.ReadTimeout(
                        f"{where}: the answer took longer than {self.total:g} s in total "
                        f"({len(data)} bytes by then)", response=response)
        except ProtocolError as exc:            # as requests' own body reading translates them
            raise requests.exceptions.ChunkedEncodingError(exc) from None
        except DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from None
        except ReadTimeoutError as exc:
            raise requests.exceptions.ConnectionError(exc) from None


def _cut(timeout, total: float):
    """requests' ``timeout`` (None, a number, or (connect, read)) with each part at most ``total``."""
    if timeout is None:
        return (total, total)
    if isinstance(timeout, tuple):
        return tuple(total if part is None else min(part, total) for part in timeout)
    return min(timeout, total)


def bounded_session(total: float, max_body: int) -> requests.Session:
    """A plain session (no retries) whose http and https exchanges are bounded by :class:`BoundedAdapter`."""
    session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, BoundedAdapter(total, max_body))
    return session
