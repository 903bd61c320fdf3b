"""The local skill server (``make serve``): concurrent clients, read timeouts, and the browser preview page."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from mart import serving
from tests.support import chatbot_mart
from tests.support.paths import REPO


def post(base: str, utterance: str, timeout: float = 5) -> dict:
    body = json.dumps({"userRequest": {"utterance": utterance, "user": {"id": "me"}}}).encode()
    request = urllib.request.Request(f"{base}/skill", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def test_an_idle_or_short_bodied_connection_blocks_no_other_client_and_is_closed(server):
    host, port = server.removeprefix("http://").split(":")
    idle = socket.create_connection((host, int(port)))                  # connects, sends nothing
    short = socket.create_connection((host, int(port)))
    short.sendall(b"POST /skill HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{")
    try:
        started = time.perf_counter()
        reply = post(server, "IU", timeout=5)
        assert time.perf_counter() - started < 1.5
        assert reply["template"]["outputs"][1]["carousel"]["items"][0]["header"]["title"] == "IU"
        # Both stalled connections are closed by the server once its read timeout (2 s) has passed.
        for stalled in (idle, short):
            stalled.settimeout(6)
            assert stalled.recv(1024) == b""
    finally:
        idle.close()
        short.close()


def test_a_body_trickling_in_is_cut_off_at_the_read_timeout_in_total(server):
    """A byte every 0.5 s keeps every single read under the 2 s read timeout: the whole body is bounded."""
    host, port = server.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)))
    slow.sendall(b"POST /skill HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n")
    slow.settimeout(0.5)
    started = time.perf_counter()
    try:
        closed = False
        while time.perf_counter() - started < 8 and not closed:
            try:
                slow.sendall(b" ")
                closed = slow.recv(1024) == b""
            except socket.timeout:
                continue
            except OSError:             # reset: closed too
                closed = True
        assert closed and time.perf_counter() - started < 4
        assert post(server, "IU")["template"]["outputs"][1]["carousel"]["items"][0]["header"]["title"] == "IU"
    finally:
        slow.close()


def test_a_body_over_64_kib_is_answered_too_long_from_its_content_length_unread(server):
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as big:
        big.sendall(b"POST /skill HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100000\r\n\r\n{\"userRequest\": {\"utterance\": \"xxxx")
        big.settimeout(1.5)                 # well before the read timeout (2 s): the body is never awaited
        answer = b""
        while not answer.endswith(b"}"):
            chunk = big.recv(65536)
            assert chunk, answer
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)["template"]["outputs"][0]["simpleText"]["text"].startswith("메시지가 너무 길어요")
    assert post(server, "IU")["template"]["outputs"][1]["carousel"]["items"][0]["header"]["title"] == "IU"


def test_the_preview_page_and_its_files_are_served(server):
    with urllib.request.urlopen(f"{server}/", timeout=5) as response:
        page = response.read().decode("utf-8")
        assert response.headers["Content-Type"].startswith("text/html")
    assert '<script src="preview.js">' in page and "preview.css" in page
    for name, kind in (("preview.js", "text/javascript"), ("preview.css", "text/css")):
        with urllib.request.urlopen(f"{server}/{name}", timeout=5) as response:
            assert response.headers["Content-Type"].startswith(kind) and response.read()
    with pytest.raises(urllib.error.HTTPError, match="404"):
        urllib.request.urlopen(f"{server}/../../etc/passwd", timeout=5)


def test_the_demo_asks_the_chatbot_about_the_most_popular_artist_by_name(tmp_path):
    """``make demo``'s last step: ``python -m chatbot_lambda --popular`` sends the most popular name."""
    url = f"jdbc:sqlite:{tmp_path / 'mart.db'}"
    conn = serving.connect(url)
    chatbot_mart.fill(conn, "sqlite", 10)
    conn.close()
    done = subprocess.run([sys.executable, "-m", "chatbot_lambda", "--mart", url, "--popular"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "LANGUAGE": "ko"})
    assert done.returncode == 0, done.stderr
    asked, _, answer = done.stdout.partition("\n")
    assert asked == "> BLACKPINK"                       # the most popular artist of the mart (popularity 99)
    assert "[BLACKPINK]" in answer and "[TWICE]" in answer and "인기곡" in answer
