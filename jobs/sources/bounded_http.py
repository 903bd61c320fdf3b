"""A requests session whose every answer is read against one total deadline and a size cap.

requests (and urllib3 under it) apply their read timeout to each read from the socket: a server
sending a byte now and then keeps a request alive for as long as it likes. :class:`BoundedAdapter`
reads each body itself, a chunk as soon as it arrives, and gives up once the request has taken
``total`` seconds (``requests.exceptions.ReadTimeout``, which callers treat like any timeout) or
the body passes ``max_body`` bytes (:class:`BodyTooLarge`, decoded bytes: a compressed bomb counts
at its real size). While the status line and headers are awaited, a timer shuts the connection's
socket down when the time is up (the same ``ReadTimeout``), so a server trickling its headers is
cut off too.
"""

from __future__ import annotations

import socket
import threading
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

CHUNK = 1 << 16


_deadline = threading.local()  # .end: when the request being sent on this thread must be done


class BodyTooLarge(requests.exceptions.RequestException):
    """The answer's body is longer than the adapter's ``max_body`` bytes."""


class _Watched:
    """A connection whose wait for the answer's head ends at this thread's deadline, however the
    bytes come: a timer shuts the socket down, and the wait ends in ``TimeoutError`` (which urllib3
    reports as a read timeout)."""

    def getresponse(self, *args, **kwargs):
        end = getattr(_deadline, "end", None)
        if end is None:
            return super().getresponse(*args, **kwargs)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            if getattr(self, "sock", None) is not None:
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(max(0.0, end - time.monotonic()), expire)
        timer.daemon = True
        timer.start()
        try:
            response = super().getresponse(*args, **kwargs)
        except Exception:
            if expired.is_set():
                raise TimeoutError("no answer within the request's total time") from None
            raise
        finally:
            timer.cancel()
        if expired.is_set():
            response.close()
            raise TimeoutError("no answer within the request's total time")
        return response


class _WatchedHTTP(_Watched, HTTPConnection):
    pass


class _WatchedHTTPS(_Watched, HTTPSConnection):
    pass


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTP


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPS


class BoundedAdapter(HTTPAdapter):
    """An HTTPAdapter bounding each exchange in time (``total`` seconds) and body size (``max_body``)."""

    def __init__(self, total: float, max_body: int, **kwargs):
        super().__init__(**kwargs)
        self.total, self.max_body = total, max_body

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}

    def send(self, request, stream=False, timeout=None, **kwargs):
        end = time.monotonic() + self.total
        _deadline.end = end
        try:
            response = super().send(request, stream=True, timeout=_cut(timeout, self.total), **kwargs)
        finally:
            _deadline.end = None
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
            raise BodyTooLarge(
                f"{where} announced a body of {length} bytes, over the cap of {self.max_body}", response=response
            )
        data = bytearray()
        try:
            while True:
                chunk = response.raw.read1(CHUNK, decode_content=True)
                if not chunk:
                    return bytes(data)
                data += chunk
                if len(data) > self.max_body:
                    raise BodyTooLarge(f"{where} sent a body over the cap of {self.max_body} bytes", response=response)
                if time.monotonic() > end:
                    raise requests.exceptions.ReadTimeout(
                        f"{where}: the answer took longer than {self.total:g} s in total ({len(data)} bytes by then)",
                        response=response,
                    )
        except ProtocolError as exc:  # as requests' own body reading translates them
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
