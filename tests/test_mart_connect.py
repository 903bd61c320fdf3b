"""MySQL connections as the chatbot opens them (mart/serving.py): statements limited by the server,
and TLS verified against a CA bundle."""

from __future__ import annotations

import time

import pymysql
import pytest

from chatbot_lambda.repository import MartRepository, MartUnavailable
from chatbot_lambda.settings import Settings
from mart import serving


def test_the_server_stops_a_statement_that_outlives_its_limit(mysql_mart):
    conn = serving.connect(mysql_mart.url, mysql_mart.user, mysql_mart.password, timeout=30, statement_seconds=0.5)
    try:
        assert serving.server_kind(conn) == "mariadb"
        started = time.monotonic()
        with pytest.raises(pymysql.err.OperationalError, match="max_statement_time exceeded"):
            serving.fetch_all(conn, "SELECT SLEEP(20)")
        assert time.monotonic() - started < 10     # the client would have waited 30 s: the server cut it
        assert serving.fetch_all(conn, "SELECT 1") == [(1,)]       # the session is still usable
    finally:
        conn.close()


def test_the_chatbots_statements_are_limited_by_the_server_to_its_timeout(mysql_mart, mariadb):
    settings = Settings.from_env({"MART_URL": mysql_mart.url, "MART_USER": mysql_mart.user,
                                  "MART_PASSWORD": mysql_mart.password, "DB_TIMEOUT_SECONDS": "0.7"})
    repository = MartRepository(settings)
    try:
        assert repository._run(lambda conn: serving.fetch_all(conn, "SELECT @@max_statement_time")) == [(0.7,)]
        with pytest.raises(MartUnavailable, match="the mart query failed"):
            repository._run(lambda conn: serving.fetch_all(conn, "SELECT SLEEP(20) FROM (SELECT 1) t"))
    finally:
        repository.close()
    # Nothing of the slow statement is left running on the server once the client has given up.
    root = mariadb.root()
    try:
        deadline = time.monotonic() + 5
        while True:
            running = [row for row in serving.fetch_all(root, "SHOW FULL PROCESSLIST")
                       if row[7] and "SLEEP(20) FROM" in str(row[7])]
            if not running or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        root.close()
    assert running == []
