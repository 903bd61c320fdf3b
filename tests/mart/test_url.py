"""Mart URLs (mart/url.py): credentials written in a URL are used and never printed; SQLite marts are
opened without creating them, and the files the project creates are readable by their owner only."""

from __future__ import annotations

import logging
import os
import stat

import pytest

import mart.__main__ as mart_cli
from chatbot_lambda import handler
from chatbot_lambda.app import SkillApp
from chatbot_lambda.settings import Settings, SettingsError
from jobs.common.jdbc import MartTarget
from mart import serving
from mart.url import MartUrl, MartUrlError
from tests.support import chatbot_mart
from tests.support.skill_calls import REQUEST_KEY, ask, headers, http_api_event, reply_of, skill_body, texts

SECRET = "pw-Zq81x%40secret"  # what the URL carries; decoded: pw-Zq81x@secret
DECODED = "pw-Zq81x@secret"


def test_a_url_gives_its_dialect_credentials_and_masked_form():
    url = MartUrl.parse(f"jdbc:mysql://batch:{SECRET}@db.example:3307/mart?useSSL=true&password=other")
    assert (url.dialect, url.host, url.port, url.database) == ("mysql", "db.example", 3307, "mart")
    assert url.credentials() == ("batch", DECODED)  # //user:password@ wins over ?password=
    assert url.credentials("reader", "given") == ("reader", "given")  # given explicitly: wins over the URL
    assert url.credentials("reader") == ("reader", DECODED)
    assert url.bare == "jdbc:mysql://db.example:3307/mart?useSSL=true"
    for shown in (str(url), url.masked, repr(url), f"{url}"):
        assert "Zq81x" not in shown and "other" not in shown, shown
    assert url.masked == "jdbc:mysql://batch:***@db.example:3307/mart?useSSL=true"
    query = MartUrl.parse("jdbc:mariadb://db/mart?user=al&password=hunter2&connectTimeout=5")
    assert query.credentials() == ("al", "hunter2") and query.bare == "jdbc:mariadb://db/mart?connectTimeout=5"
    assert "hunter2" not in repr(query) + str(query)
    sqlite = MartUrl.parse("jdbc:sqlite:file:/tmp/x.db")
    assert (sqlite.dialect, sqlite.sqlite_file, sqlite.masked) == ("sqlite", "/tmp/x.db", "jdbc:sqlite:file:/tmp/x.db")
    assert MartUrl.parse("jdbc:sqlite::memory:").sqlite_file is None
    with pytest.raises(MartUrlError, match=r"'jdbc:mysql://u:\*\*\*@db:port/m': Port") as bad:
        MartUrl.parse(f"jdbc:mysql://u:{SECRET}@db:port/m")
    assert "Zq81x" not in str(bad.value)
    with pytest.raises(MartUrlError, match="is neither"):
        MartUrl.parse("postgres://u:pw@db/m")


def test_publish_targets_take_credentials_out_of_the_url():
    target = MartTarget.from_config({"url": f"jdbc:mysql://batch:{SECRET}@db:3306/mart"}, env={})
    assert (target.url, target.user, target.password) == ("jdbc:mysql://db:3306/mart", "batch", DECODED)
    assert "Zq81x" not in target.shown_url + repr(target) and "mart.url" in target.password_source
    given = MartTarget.from_config(
        {"url": f"jdbc:mysql://batch:{SECRET}@db:3306/mart", "user": "writer"}, env={"MART_PASSWORD": "from-env"}
    )
    assert (given.user, given.password, given.password_source) == ("writer", "from-env", "$MART_PASSWORD")


def _filled(mysql_mart):
    conn = mysql_mart.reader()
    chatbot_mart.fill(conn, "mysql", 20)
    conn.close()
    return mysql_mart


def _mysql_url_with_password(mysql_mart, password: str | None = None) -> str:
    rest = mysql_mart.url[len("jdbc:mysql://") :]
    return f"jdbc:mysql://{mysql_mart.user}:{password or mysql_mart.password}@{rest}"


def test_python_m_mart_uses_a_password_in_the_url_and_never_prints_it(mysql_mart, capsys, monkeypatch):
    monkeypatch.delenv("MART_PASSWORD", raising=False)
    url = _mysql_url_with_password(_filled(mysql_mart))
    assert mart_cli.main(["--url", url, "BLACKPINK"]) == 0
    out, err = capsys.readouterr()
    assert "artist  BLACKPINK" in out and mysql_mart.password not in out + err
    wrong = _mysql_url_with_password(mysql_mart, "wrong-" + mysql_mart.password)
    assert mart_cli.main(["--url", wrong + "?password=also-wrong", "BLACKPINK"]) == 2
    out, err = capsys.readouterr()
    assert "cannot read the mart at jdbc:mysql://" in err and ":***@" in err, err
    assert mysql_mart.password not in out + err and "also-wrong" not in out + err
    assert mart_cli.main(["--url", url.replace(":3307/", ":port/"), "--migrate"]) == 2
    out, err = capsys.readouterr()
    assert "Port could not be cast" in err and mysql_mart.password not in out + err


def test_the_lambda_uses_a_password_in_the_url_and_never_logs_it(mysql_mart, monkeypatch, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    for name in ("MART_USER", "MART_PASSWORD", "MART_PASSWORD_SECRET"):
        monkeypatch.delenv(name, raising=False)
    url = _mysql_url_with_password(_filled(mysql_mart))
    handler.reset()
    try:
        monkeypatch.setenv("MART_URL", url)
        assert (
            headers(reply_of(handler.lambda_handler(http_api_event(skill_body("BLACKPINK")), None)))[0] == "BLACKPINK"
        )
        assert repr(handler.application().settings).count(mysql_mart.password) == 0
        handler.reset()
        monkeypatch.setenv("MART_URL", _mysql_url_with_password(mysql_mart, "wrong-" + mysql_mart.password))
        reply = reply_of(handler.lambda_handler(http_api_event(skill_body("BLACKPINK")), None))
        assert "잠시 뒤에 다시 시도해 주세요" in texts(reply)[0]
        handler.reset()
        monkeypatch.setenv("MART_URL", url.replace(":3307/", ":port/"))
        assert texts(reply_of(handler.lambda_handler(http_api_event(skill_body("IU")), None)))[0].startswith("죄송해요")
    finally:
        handler.reset()
    logged = caplog.text + "".join(capsys.readouterr())
    assert "mart_down" in logged and "cannot start: MART_URL=" in logged, logged
    assert mysql_mart.password not in logged


# -- SQLite files ------------------------------------------------------------------------------------------


def test_reading_a_missing_sqlite_mart_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "nowhere" / "mart.db"
    assert mart_cli.main(["--url", f"jdbc:sqlite:{missing}", "BLACKPINK"]) == 2
    assert f"no mart at jdbc:sqlite:{missing}" in capsys.readouterr().err
    skill = SkillApp(Settings.from_env({"REQUEST_KEY": REQUEST_KEY, "MART_URL": f"jdbc:sqlite:{tmp_path / 'mart.db'}"}))
    try:
        assert "잠시 뒤에 다시 시도해 주세요" in texts(ask(skill, "BLACKPINK"))[0]
    finally:
        skill.repository.close()
    assert not (tmp_path / "mart.db").exists() and not missing.parent.exists()
    with pytest.raises(MartUrlError, match="does not exist"):
        serving.connect(f"jdbc:sqlite:{tmp_path / 'mart.db'}", readonly=True)


def test_python_m_mart_cannot_write_to_an_sqlite_mart(tmp_path):
    path = tmp_path / "mart.db"
    conn = serving.connect(f"jdbc:sqlite:{path}")
    chatbot_mart.fill(conn, "sqlite", 5)
    conn.close()
    reader = serving.connect(f"jdbc:sqlite:{path}", readonly=True)
    try:
        with pytest.raises(Exception, match="readonly"):
            serving.fetch_all(reader, "DELETE FROM artists")
    finally:
        reader.close()


def test_sqlite_marts_the_project_creates_are_readable_by_their_owner_only(tmp_path):
    previous = os.umask(0o022)  # the usual umask: files would be world-readable
    try:
        path = tmp_path / "data" / "mart.db"
        conn = serving.connect(f"jdbc:sqlite:{path}")
        chatbot_mart.fill(conn, "sqlite", 5)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.close()
        skill = SkillApp(Settings.from_env({"REQUEST_KEY": REQUEST_KEY, "MART_URL": f"jdbc:sqlite:{path}"}))
        try:  # the chatbot writes a request: the WAL files it creates are as private as the mart
            ask(skill, "Nobody Knows This Band")
        finally:
            skill.repository.close()
    finally:
        os.umask(previous)
    made = [p for p in path.parent.iterdir()]
    assert path in made
    for file in made:
        assert stat.S_IMODE(file.stat().st_mode) & 0o077 == 0, (file, oct(file.stat().st_mode))


def test_bad_credentials_in_settings_name_the_variable_masked():
    with pytest.raises(SettingsError, match=r"MART_URL='jdbc:mysql://u:\*\*\*@h:x/m'") as bad:
        Settings.from_env({"REQUEST_KEY": REQUEST_KEY, "MART_URL": "jdbc:mysql://u:hunter2@h:x/m"})
    assert "hunter2" not in str(bad.value)


def test_the_publish_jobs_sqlite_mart_is_created_owner_only(spark, tmp_path):
    from jobs.common.jdbc import MartConnection

    previous = os.umask(0o022)
    try:
        target = MartTarget.from_config({"url": f"jdbc:sqlite:{tmp_path / 'data' / 'mart.db'}"}, env={})
        with MartConnection(spark, target) as conn:
            conn.execute("CREATE TABLE t (x INTEGER)")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "data" / "mart.db").stat().st_mode) == 0o600
