"""MySQL connections as the chatbot opens them (mart/serving.py): statements limited by the server,
and TLS verified against a CA bundle."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pymysql
import pytest

import mart.__main__ as mart_cli
from chatbot_lambda.app import SkillApp
from chatbot_lambda.repository import MartRepository, MartUnavailable
from chatbot_lambda.settings import Settings
from mart import serving
from tests.support import chatbot_mart
from tests.support.paths import REPO
from tests.support.skill_calls import REQUEST_KEY, ask, headers, texts


def test_the_server_stops_a_statement_that_outlives_its_limit(mysql_mart):
    conn = serving.connect(mysql_mart.url, mysql_mart.user, mysql_mart.password, timeout=30, statement_seconds=0.5)
    try:
        assert serving.server_kind(conn) == "mariadb"
        started = time.monotonic()
        with pytest.raises(pymysql.err.OperationalError, match="max_statement_time exceeded"):
            serving.fetch_all(conn, "SELECT SLEEP(20)")
        assert time.monotonic() - started < 10  # the client would have waited 30 s: the server cut it
        assert serving.fetch_all(conn, "SELECT 1") == [(1,)]  # the session is still usable
    finally:
        conn.close()


def test_the_chatbots_statements_are_limited_by_the_server_to_its_timeout(mysql_mart, mariadb):
    settings = Settings.from_env(
        {
            "REQUEST_KEY": REQUEST_KEY,
            "MART_URL": mysql_mart.url,
            "MART_USER": mysql_mart.user,
            "MART_PASSWORD": mysql_mart.password,
            "DB_TIMEOUT_SECONDS": "0.7",
        }
    )
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
            running = [
                row
                for row in serving.fetch_all(root, "SHOW FULL PROCESSLIST")
                if row[7] and "SLEEP(20) FROM" in str(row[7])
            ]
            if not running or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        root.close()
    assert running == []


# -- TLS ---------------------------------------------------------------------------------------------------
# scripts/mariadb.sh starts the test server with TLS: a throwaway CA in .cache/mariadb/tls signs its certificate.

SERVER_CA = os.environ.get("MART_TEST_SSL_CA", str(REPO / ".cache" / "mariadb" / "tls" / "ca.pem"))


@pytest.fixture
def tls_only_user(mysql_mart, mariadb):
    """A user of the test mart that the server admits over TLS only (``REQUIRE SSL``): (user, password)."""
    with mariadb.extra_user("mart_tls_", mysql_mart.url.rsplit("/", 1)[1], tls_only=True) as credentials:
        yield credentials


def _other_ca(folder: Path) -> str:
    """A CA that did not sign the server's certificate."""
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=some other CA",
            "-keyout",
            str(folder / "other.key"),
            "-out",
            str(folder / "other.pem"),
        ],
        check=True,
        capture_output=True,
    )
    return str(folder / "other.pem")


def test_tls_with_the_servers_ca_is_encrypted_and_a_wrong_ca_is_refused(mysql_mart, tls_only_user, tmp_path):
    user, password = tls_only_user
    conn = serving.connect(mysql_mart.url, user, password, ssl_ca=SERVER_CA)
    try:
        ((_, cipher),) = serving.fetch_all(conn, "SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        assert cipher, "the session is not encrypted"
    finally:
        conn.close()
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):  # REQUIRE SSL: plain is refused
        serving.connect(mysql_mart.url, user, password)
    with pytest.raises(pymysql.err.OperationalError, match="CERTIFICATE_VERIFY_FAILED"):
        serving.connect(mysql_mart.url, user, password, ssl_ca=_other_ca(tmp_path))
    with pytest.raises(serving.MartUrlError, match="is not a file"):
        serving.connect(mysql_mart.url, user, password, ssl_ca=str(tmp_path / "missing.pem"))


def test_the_chatbot_and_python_m_mart_read_over_tls(mysql_mart, tls_only_user, tmp_path, capsys, monkeypatch):
    user, password = tls_only_user
    conn = mysql_mart.reader()
    chatbot_mart.fill(conn, "mysql", 20)
    conn.close()
    env = {
        "REQUEST_KEY": REQUEST_KEY,
        "MART_URL": mysql_mart.url,
        "MART_USER": user,
        "MART_PASSWORD": password,
        "MART_SSL_CA": SERVER_CA,
    }
    skill = SkillApp(Settings.from_env(env))
    try:
        assert headers(ask(skill, "BLACKPINK"))[0] == "BLACKPINK"
    finally:
        skill.repository.close()
    wrong = SkillApp(Settings.from_env({**env, "MART_SSL_CA": _other_ca(tmp_path)}))
    try:
        assert "잠시 뒤에 다시 시도해 주세요" in texts(ask(wrong, "BLACKPINK"))[0]
    finally:
        wrong.repository.close()
    monkeypatch.setenv("MART_PASSWORD", password)
    assert mart_cli.main(["--url", mysql_mart.url, "--user", user, "--ssl-ca", SERVER_CA, "BLACKPINK"]) == 0
    assert "artist  BLACKPINK" in capsys.readouterr().out
    assert mart_cli.main(["--url", mysql_mart.url, "--user", user, "BLACKPINK"]) == 2
    assert "Access denied" in capsys.readouterr().err
