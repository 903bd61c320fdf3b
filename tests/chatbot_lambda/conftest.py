"""Fixtures of the chatbot tests: the local skill server."""

from __future__ import annotations

import pytest

from tests.support.skill_server import skill_server


@pytest.fixture
def server(tmp_path):
    """``python -m chatbot_lambda.serve`` with short deadlines (headers 1 s, a body or a read 2 s) over a small
    SQLite mart; yields its base URL."""
    with skill_server(tmp_path, "--read-timeout", "2", "--header-timeout", "1") as (url, _):
        yield url
