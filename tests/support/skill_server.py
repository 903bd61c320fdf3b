"""The local skill server (``python -m chatbot_lambda.serve``) run as a subprocess for a test."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

from mart import serving
from tests.support import chatbot_mart
from tests.support.paths import REPO


@contextlib.contextmanager
def skill_server(tmp_path, *options: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """The server with ``options`` on a free port over a small SQLite mart in ``tmp_path``; yields its base
    URL and its process (stopped on leaving)."""
    conn = serving.connect(f"jdbc:sqlite:{tmp_path / 'mart.db'}")
    chatbot_mart.fill(conn, "sqlite", 10)
    conn.close()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chatbot_lambda.serve",
            "--port",
            "0",
            *options,
            "--mart",
            f"jdbc:sqlite:{tmp_path / 'mart.db'}",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("skill server on http://127.0.0.1:"), line + process.stderr.read()
        yield line.split()[3].rsplit("/", 1)[0], process
    finally:
        process.terminate()
        process.wait(10)
