"""One HTTP exchange within a total time and a body size cap (standard library only, for the Lambda).

``urllib``'s timeout applies to each read from the socket: a server sending a byte now and then
keeps a request alive for as long as it likes. :func:`exchange` starts a timer that shuts the
socket down when the total time is up, whatever the exchange is waiting for (connection, status
line, headers or body), and refuses a body over ``MAX_BODY_BYTES`` without reading it whole.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.parse
import urllib.request

MAX_BODY_BYTES = 1 << 20  # far above any answer a lookup asks for (5 artists, 10 tracks)


class TooLarge(Exception):
    """The answer's body is longer than MAX_BODY_BYTES."""


def exchange(request: urllib.request.Request, timeout: float) -> tuple[int, http.client.HTTPMessage, bytes]:
    """``(status, headers, body)`` of one request, all of it within ``timeout`` seconds in total.

    A timer shuts the socket down when the time is up, whatever the server is doing (silent, or
    sending a byte now and then); reads that then fail or end early raise ``TimeoutError``.
    """
    parts = urllib.parse.urlsplit(request.full_url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {request.full_url!r}")
    end = time.monotonic() + timeout
    conn = kind(parts.hostname, parts.port, timeout=timeout)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        if conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(
            request.get_method(),
            target or "/",
            body=request.data,
            headers={**dict(request.header_items()), "Connection": "close"},
        )
        response = conn.getresponse()
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise TooLarge(f"Content-Length {length}")
        data = bytearray()
        while True:
            chunk = response.read1(1 << 16)
            if not chunk:
                break
            data += chunk
            if len(data) > MAX_BODY_BYTES:
                raise TooLarge(f"more than {len(data)} bytes read")
            if time.monotonic() >= end:
                expired.set()
                break
        if expired.is_set():
            raise TimeoutError(f"the answer took longer than {timeout:.2f} s")
        return response.status, response.headers, bytes(data)
    except (http.client.HTTPException, OSError):
        if expired.is_set():
            raise TimeoutError(f"the answer took longer than {timeout:.2f} s") from None
        raise
    finally:
        timer.cancel()
        conn.close()
