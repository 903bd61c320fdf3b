"""Fixtures of the chatbot tests: the local skill server."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mart import serving
from tests.support import chatbot_mart
from tests.support.paths import REPO


@pytest.fixture
def server(tmp_path):
    """``python -m chatbot_lambda.serve`` on a free port over a small SQLite mart; yields its base URL."""
    conn = serving.connect(f"jdbc:sqlite:{tmp_path / 'mart.db'}")
    chatbot_mart.fill(conn, "sqlite", 10)
    conn.close()
    process = subprocess.Popen([sys.executable, "-m", "chatbot_lambda.serve", "--port", "0", "--read-timeout", "2",
                                "--mart", f"jdbc:sqlite:{tmp_path / 'mart.db'}"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("skill server on http://127.0.0.1:"), line + process.stderr.read()
        yield line.split()[3].rsplit("/", 1)[0]
    finally:
        process.terminate()
        process.wait(10)
