"""The local skill server (``make serve``): concurrent clients, deadlines, a bounded pool, which POSTs it takes,
its request key, and the browser preview page."""

from __future__ import annotations

import http.client
import json
import logging
import os
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from chatbot_lambda import serve
from chatbot_lambda.settings import Settings
from mart import serving
from tests.support import chatbot_mart
from tests.support.paths import REPO
from tests.support.skill_server import skill_server


def post(base: str, utterance: str, timeout: float = 5) -> dict:
    body = json.dumps({"userRequest": {"utterance": utterance, "user": {"id": "me"}}}).encode()
    request = urllib.request.Request(f"{base}/skill", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def test_an_idle_or_short_bodied_connection_blocks_no_other_client_and_is_closed(server):
    host, port = server.removeprefix("http://").split(":")
    idle = socket.create_connection((host, int(port)))  # connects, sends nothing
    short = socket.create_connection((host, int(port)))
    short.sendall(b"POST /skill HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{")
    try:
        started = time.perf_counter()
        reply = post(server, "IU", timeout=5)
        assert time.perf_counter() - started < 1.5
        assert reply["template"]["outputs"][1]["carousel"]["items"][0]["header"]["title"] == "IU"
        # Both stalled connections are closed by the server at their deadlines (headers 1 s, a body 2 s).
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
            except TimeoutError:
                continue
            except OSError:  # reset: closed too
                closed = True
        assert closed and time.perf_counter() - started < 4
        assert post(server, "IU")["template"]["outputs"][1]["carousel"]["items"][0]["header"]["title"] == "IU"
    finally:
        slow.close()


def test_a_body_over_64_kib_is_answered_too_long_from_its_content_length_unread(server):
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as big:
        big.sendall(
            b"POST /skill HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100000\r\n\r\n{"userRequest": {"utterance": "xxxx'
        )
        big.settimeout(1.5)  # well before the read timeout (2 s): the body is never awaited
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


def demo_mart(tmp_path, *statements: str) -> str:
    """The URL of an SQLite mart of tests/support/chatbot_mart.py's artists, after ``statements``."""
    url = f"jdbc:sqlite:{tmp_path / 'mart.db'}"
    conn = serving.connect(url)
    chatbot_mart.fill(conn, "sqlite", 10)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return url


@pytest.mark.parametrize(
    ("option", "name", "related"),
    [("--popular", "BLACKPINK", "TWICE"), ("--popular-hangul", "태연", "IU")],
)
def test_the_demo_asks_the_chatbot_about_the_most_popular_artist_by_name(tmp_path, option, name, related):
    """``make demo``'s last step: ``python -m chatbot_lambda --popular-hangul`` sends the name of the most
    popular artist with a Hangul name (``--popular``: of the most popular), and shows the links readable."""
    url = demo_mart(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "chatbot_lambda", "--mart", url, option],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LANGUAGE": "ko"},
    )
    assert done.returncode == 0, done.stderr
    asked, _, answer = done.stdout.partition("\n")
    assert asked == f"> {name}"  # BLACKPINK: popularity 99; 태연, 80, the only Hangul name
    assert f"[{name}]" in answer and f"[{related}]" in answer and "인기곡" in answer
    assert f"search_query={name}" in answer and "%" not in answer  # as an address bar shows it


def test_the_demo_asks_about_the_most_popular_artist_when_no_name_is_hangul(tmp_path):
    url = demo_mart(tmp_path, "UPDATE artists SET name = 'Taeyeon' WHERE artist_id = 'ty'")  # the only Hangul name
    done = subprocess.run(
        [sys.executable, "-m", "chatbot_lambda", "--mart", url, "--popular-hangul"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("> BLACKPINK\n") and "asking about the most popular one" in done.stderr


def address(server: str) -> tuple[str, int]:
    host, port = server.removeprefix("http://").split(":")
    return host, int(port)


def closed_within(connection: socket.socket, seconds: float, trickle: bytes = b"") -> float | None:
    """Seconds until the server closes ``connection`` (sending ``trickle`` every 0.3 s meanwhile), or
    ``None`` when it is still open after ``seconds``."""
    connection.settimeout(0.3)
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        try:
            if trickle:
                connection.sendall(trickle)
            if connection.recv(1024) == b"":
                return time.perf_counter() - started
        except TimeoutError:
            continue
        except OSError:  # reset: closed too
            return time.perf_counter() - started
    return None


def test_headers_trickling_in_are_cut_off_at_the_header_deadline(server):
    """A header byte every 0.3 s keeps every read under the read timeout (2 s); the request line and headers
    together must come within the header deadline (1 s here, 5 s by default)."""
    with socket.create_connection(address(server)) as slow:
        slow.sendall(b"POST /skill HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        waited = closed_within(slow, 8, trickle=b"a")
        assert waited is not None and waited < 1.8, waited
    with socket.create_connection(address(server)) as partial:  # a request line cut short, nothing more
        partial.sendall(b"GET /index.ht")
        waited = closed_within(partial, 8)
        assert waited is not None and waited < 1.8, waited
    assert post(server, "IU")["template"]["outputs"][1]["carousel"]["items"][0]["header"]["title"] == "IU"


def raw_post(server: str, headers: dict[str, str], body: bytes = b'{"userRequest": {"utterance": "IU"}}'):
    """(status, headers, body) of a POST to /skill carrying exactly ``headers`` (and Host, Content-Length)."""
    lines = [
        "POST /skill HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Length: {len(body)}",
        *[f"{name}: {value}" for name, value in headers.items()],
    ]
    with socket.create_connection(address(server)) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body)
        connection.settimeout(5)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
            head, _, data = answer.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                None,
            )
            if length is not None and len(data) >= length:
                break
    head, _, data = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.decode("latin-1"), data


def test_a_post_from_a_page_of_another_origin_is_refused(server):
    """A web page elsewhere may POST text/plain (or a form) to localhost with no CORS preflight."""
    host, port = address(server)
    for kind in ("text/plain", "application/json", "application/x-www-form-urlencoded"):
        status, _, data = raw_post(server, {"Content-Type": kind, "Origin": "http://evil.example"})
        assert status == 403 and "another origin" in json.loads(data)["error"], (kind, status, data)
    status, _, data = raw_post(server, {"Content-Type": "application/json", "Origin": "null"})  # sandboxed, file:
    assert status == 403
    for own in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):  # the preview's own page
        status, _, data = raw_post(server, {"Content-Type": "application/json", "Origin": own})
        assert status == 200 and json.loads(data)["template"]["outputs"], (own, data)


def test_a_post_that_is_not_json_is_refused(server):
    for headers in (
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        {},
    ):
        status, head, data = raw_post(server, headers)
        assert status == 415 and json.loads(data) == {"error": "refused: the Content-Type must be application/json"}
        assert "Connection: close" in head
    status, _, data = raw_post(server, {"Content-Type": "Application/JSON; charset=utf-8"})
    assert status == 200 and json.loads(data)["template"]["outputs"]


def test_accepted_sockets_have_nagle_s_algorithm_off(server):
    """Headers and body are written apart: with Nagle's algorithm on, the body of each answer after the first
    on a kept-alive connection waited for the client's delayed ACK (48 ms each, measured)."""
    kept_alive = http.client.HTTPConnection(*address(server), timeout=5)
    waits = []
    for _ in range(10):
        started = time.perf_counter()
        kept_alive.request("GET", "/preview.css")
        assert kept_alive.getresponse().read()
        waits.append(time.perf_counter() - started)
    kept_alive.close()
    assert sorted(waits)[5] < 0.02, waits
    server = serve.SkillServer(("127.0.0.1", 0), serve.SkillHandler, workers=1)
    try:
        with socket.create_connection(server.server_address[:2]):
            accepted, _ = server.get_request()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        server.server_close()


def threads_of(process: subprocess.Popen) -> int:
    return len(os.listdir(f"/proc/{process.pid}/task"))


def test_more_slow_connections_than_workers_wait_or_get_503_and_threads_stay_bounded(tmp_path):
    """2 workers: 2 slow connections are served, 8 (4 per worker) wait, the rest get 503 at once; no thread is
    made per connection (before, each of 12 slow clients held a thread of its own)."""
    with skill_server(tmp_path, "--workers", "2", "--header-timeout", "4") as (url, process):
        idle = threads_of(process)
        connections = []
        try:
            for n in range(12):
                connection = socket.create_connection(address(url))
                connection.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n")  # never finished
                connections.append(connection)
                if n == 1:
                    time.sleep(0.3)  # both workers have taken theirs: the next 8 wait, the last 2 are refused
            answered: set = set()
            until = time.monotonic() + 1.5
            while len(answered) < 2 and time.monotonic() < until:
                answered.update(select.select([c for c in connections if c not in answered], [], [], 0.1)[0])
            assert threads_of(process) == idle
            assert answered == set(connections[-2:])
            assert all(connection.recv(1024).startswith(b"HTTP/1.1 503 ") for connection in connections[-2:])
            # Within their header deadline (4 s) the served and waiting connections are still open.
            assert select.select(connections[:10], [], [], 0)[0] == []
        finally:
            for connection in connections:
                connection.close()


def test_make_serve_makes_a_random_request_key_per_run_unless_one_is_set(tmp_path, monkeypatch, caplog):
    """Settings refuse to start without REQUEST_KEY: ``make serve`` gives each run a key of its own."""
    env: dict[str, str] = {}
    with caplog.at_level(logging.INFO, logger="chatbot_lambda.serve"):
        assert serve.ensure_request_key(env)
    key = env["REQUEST_KEY"]
    assert len(key) >= 32 and Settings.from_env(env).request_key == key
    assert len(caplog.records) == 1 and key not in caplog.text and "REQUEST_KEY is not set" in caplog.text
    again: dict[str, str] = {}
    serve.ensure_request_key(again)
    assert again["REQUEST_KEY"] != key
    given = {"REQUEST_KEY": "a key set by hand, 32 characters"}
    assert not serve.ensure_request_key(given) and given["REQUEST_KEY"] == "a key set by hand, 32 characters"

    monkeypatch.delenv("REQUEST_KEY", raising=False)
    monkeypatch.delenv("REQUEST_KEY_SECRET", raising=False)
    with skill_server(tmp_path) as (url, process):
        assert post(url, "IU")["template"]["outputs"][1]["carousel"]["items"][0]["header"]["title"] == "IU"
        process.terminate()
        said = [line for line in process.stderr.read().splitlines() if "REQUEST_KEY" in line]
    assert len(said) == 1 and "random key" in said[0]
