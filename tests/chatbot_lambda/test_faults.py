"""Bad input and failing parts: the chatbot always answers with a valid Kakao reply (or 401), in time."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import unicodedata

import pytest

from chatbot_lambda import handler
from chatbot_lambda.app import LOG_FIELDS, SkillApp
from chatbot_lambda.settings import Settings, SettingsError
from mart import serving
from tests.support import chatbot_mart
from tests.support.skill_calls import (
    REQUEST_KEY,
    ask,
    cards,
    headers,
    http_api_event,
    reply_of,
    rest_api_event,
    skill_body,
    texts,
)

SORRY = "죄송해요, 메시지를 읽지 못했어요"


BAD_EVENTS = {
    "not JSON": http_api_event("{not json"),
    "JSON but a list": http_api_event("[1, 2]"),
    "no userRequest": http_api_event('{"action": {}}'),
    "utterance not text": http_api_event('{"userRequest": {"utterance": 42}}'),
    "no body": http_api_event(None),
    "bad base64": {**http_api_event("!!!"), "isBase64Encoded": True},
    "base64 of binary": {**rest_api_event("x"), "body": "//79", "isBase64Encoded": True},
    "deep nesting": http_api_event("[" * 30000 + "]" * 30000),  # under the 64 KiB body limit
    "not an event": ["hello"],
    "no method": {"body": skill_body("BTS")},
}


@pytest.mark.parametrize("name", list(BAD_EVENTS))
def test_unreadable_requests_get_an_apology(app, name):
    reply = reply_of(app.handle(BAD_EVENTS[name]))
    assert texts(reply)[0].startswith(SORRY)


@pytest.mark.parametrize(
    "typed",
    [
        "x" * 10_000,
        "🎤🎸 BLACKPINK 🎶",
        "BLACK\x00PINK\x07",
        "\u202eknip\u200bkcalb",
        "'; DROP TABLE artists; --",
        "BLACKPINK' OR '1'='1",
        "%",
        "_",
        "!%_\\",
        "Robert'); DELETE FROM artist_requests; --",
        "a\tb",
    ],
)
def test_hostile_or_odd_text_never_changes_the_served_mart(app, served_mart, typed):
    conn = served_mart.reader()
    before = chatbot_mart.snapshot(conn)
    reply = ask(app, typed)
    assert chatbot_mart.snapshot(conn) == before
    conn.close()
    assert texts(reply) and all(len(t) <= 1000 for t in texts(reply))
    assert not [t for t in _strings(reply) if any(unicodedata.category(ch) == "Cc" for ch in t)]


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def test_lone_surrogates_are_dropped_not_fatal(app, caplog):
    caplog.set_level(logging.INFO, "chatbot_lambda")
    body = '{"userRequest": {"utterance": "\\ud800BLACKPINK\\udfff", "user": {"id": "\\udc00"}}}'
    assert headers(reply_of(app.handle(http_api_event(body))))[0] == "BLACKPINK"
    body = '{"userRequest": {"utterance": "\\ud800New Band\\udfff"}}'
    assert texts(reply_of(app.handle(http_api_event(body))))[0].startswith("‘New Band’ 아티스트는 아직 몰라요")
    assert [logged["outcome"] for logged in _logged(caplog)] == ["known", "queued"]


@pytest.mark.parametrize("make, encoded", [(http_api_event, False), (http_api_event, True), (rest_api_event, True)])
def test_a_body_over_64_kib_is_refused_before_it_is_decoded_or_parsed(
    app, served_mart, caplog, monkeypatch, make, encoded
):
    from chatbot_lambda import apigw
    from chatbot_lambda.kakao import SkillRequest

    caplog.set_level(logging.INFO, "chatbot_lambda")
    huge = make(skill_body("x" * (10 << 20)), base64_body=encoded)
    just_under = make(skill_body("x" * (60 << 10)), base64_body=encoded)

    def untouched(*args, **kwargs):
        raise AssertionError("a body over the limit was decoded or parsed")

    with monkeypatch.context() as patch:
        patch.setattr(SkillRequest, "from_body", untouched)
        patch.setattr(apigw.base64, "b64decode", untouched)
        reply = reply_of(app.handle(huge))
    assert texts(reply) == ["메시지가 너무 길어요. 아티스트 이름만 짧게 보내 주세요."]
    assert _logged(caplog)[-1]["outcome"] == "too_large"
    assert texts(reply_of(app.handle(just_under)))[0].startswith("메시지가 너무 길어요")
    assert _logged(caplog)[-1]["outcome"] == "too_long"  # read, then found too long for a name
    assert headers(ask(app, "BLACKPINK"))[0] == "BLACKPINK"
    conn = served_mart.reader()
    assert serving.fetch_all(conn, "SELECT COUNT(*) FROM artist_requests") == [(0,)]
    conn.close()


def test_control_characters_inside_a_name_still_match(app):
    assert headers(ask(app, "BLACK\u200bPINK\t"))[0] == "BLACKPINK"


def test_a_skill_secret_is_required_when_configured(skill_env):
    skill = SkillApp(Settings.from_env({**skill_env, "SKILL_SECRET": "s3cret"}))
    body = skill_body("BLACKPINK")
    for sent in ({}, {"X-Skill-Secret": "wrong"}, {"x-skill-secret": ""}, {"X-Skill-Secret": "s3cret "}):
        response = skill.handle(http_api_event(body, sent))
        assert response["statusCode"] == 401, sent
        assert "BLACKPINK" not in response["body"]
    assert headers(reply_of(skill.handle(http_api_event(body, {"x-skill-secret": "s3cret"}))))[0] == "BLACKPINK"
    assert headers(reply_of(skill.handle(rest_api_event(body, {"X-SKILL-SECRET": "s3cret"}))))[0] == "BLACKPINK"
    unreadable = {**http_api_event(body), "body": "%%%", "isBase64Encoded": True}
    assert skill.handle(unreadable)["statusCode"] == 401  # the secret is checked before the body
    skill.repository.close()


# -- the database --------------------------------------------------------------------------------------


def _logged(caplog) -> list[dict]:
    """The structured fields of each answer's log record (``chatbot_lambda.app.LOG_FIELDS``)."""
    return [
        {f: getattr(r, f) for f in LOG_FIELDS if hasattr(r, f)}
        for r in caplog.records
        if r.name == "chatbot_lambda" and hasattr(r, "outcome")
    ]


def test_a_mart_that_refuses_connections_gets_a_friendly_reply(caplog):
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    closed = port.getsockname()[1]
    port.close()
    skill = SkillApp(
        Settings.from_env(
            {"REQUEST_KEY": REQUEST_KEY, "MART_URL": f"jdbc:mysql://127.0.0.1:{closed}/mart", "MART_USER": "x"}
        )
    )
    reply = ask(skill, "BLACKPINK")
    assert "잠시 뒤에 다시 시도해 주세요" in texts(reply)[0]
    assert _logged(caplog)[-1]["outcome"] == "mart_down"
    assert "cannot connect to the mart" in _logged(caplog)[-1]["detail"]


def test_a_mart_that_never_answers_times_out_within_the_budget(caplog):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)  # accepts connections, never speaks
    host, port = silent.getsockname()
    skill = SkillApp(
        Settings.from_env(
            {"REQUEST_KEY": REQUEST_KEY, "MART_URL": f"jdbc:mysql://{host}:{port}/mart", "DB_TIMEOUT_SECONDS": "0.5"}
        )
    )
    started = time.perf_counter()
    reply = ask(skill, "BLACKPINK")
    assert time.perf_counter() - started < 2.5
    assert "잠시 뒤에 다시 시도해 주세요" in texts(reply)[0]
    assert _logged(caplog)[-1]["outcome"] == "mart_down"
    silent.close()


def test_a_slow_mart_times_out_then_recovers(mysql_mart, mariadb, caplog):
    conn = mysql_mart.reader()
    chatbot_mart.fill(conn, "mysql", 20)
    conn.close()
    skill = SkillApp(
        Settings.from_env(
            {
                "REQUEST_KEY": REQUEST_KEY,
                "MART_URL": mysql_mart.url,
                "MART_USER": mysql_mart.user,
                "MART_PASSWORD": mysql_mart.password,
                "DB_TIMEOUT_SECONDS": "0.5",
            }
        )
    )
    assert headers(ask(skill, "IU"))[0] == "IU"
    locker = mariadb.root(mysql_mart.url.rsplit("/", 1)[1])
    with locker.cursor() as cursor:
        cursor.execute("LOCK TABLES artists WRITE")  # lookups now wait for the lock
    try:
        started = time.perf_counter()
        reply = ask(skill, "IU")
        assert time.perf_counter() - started < 2.0
        assert "잠시 뒤에 다시 시도해 주세요" in texts(reply)[0]
        assert _logged(caplog)[-1]["outcome"] == "mart_down"
    finally:
        with locker.cursor() as cursor:
            cursor.execute("UNLOCK TABLES")
        locker.close()
    assert headers(ask(skill, "IU"))[0] == "IU"
    skill.repository.close()


def test_warm_invocations_reuse_one_connection_and_reopen_it_when_killed(app, served_mart, mariadb):
    for _ in range(5):
        assert headers(ask(app, "TWICE"))[0] == "TWICE"
    assert app.repository.connections_opened == 1
    if served_mart.dialect == "mysql":
        connection_id = app.repository._conn.thread_id()
        root = mariadb.root()
        with root.cursor() as cursor:
            cursor.execute("KILL %s", (connection_id,))
        root.close()
    else:
        app.repository._conn.close()  # the closest SQLite has to a connection gone away
    assert headers(ask(app, "TWICE"))[0] == "TWICE"
    assert app.repository.connections_opened == 2
    assert headers(ask(app, "IU"))[0] == "IU"
    assert app.repository.connections_opened == 2


def test_a_mart_without_tables_gets_a_friendly_reply(tmp_path):
    skill = SkillApp(
        Settings.from_env({"REQUEST_KEY": REQUEST_KEY, "MART_URL": f"jdbc:sqlite:{tmp_path / 'empty.db'}"})
    )
    assert "잠시 뒤에 다시 시도해 주세요" in texts(ask(skill, "BLACKPINK"))[0]
    skill.repository.close()


# -- the Lambda entry point ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "short key"])
def test_the_lambda_does_not_start_without_a_request_key(skill_env, monkeypatch, caplog, key):
    """No built-in key: a chip signed with a constant from the source could re-point a name for everyone."""
    handler.reset()
    for name, value in skill_env.items():
        monkeypatch.setenv(name, value)
    if key is None:
        monkeypatch.delenv("REQUEST_KEY")
    else:
        monkeypatch.setenv("REQUEST_KEY", key)
    try:
        reply = reply_of(handler.lambda_handler(http_api_event(skill_body("BLACKPINK")), None))
        assert texts(reply)[0].startswith("죄송해요") and cards(reply) == []
        assert "cannot start: REQUEST_KEY (or REQUEST_KEY_SECRET) must give a key of at least 16" in caplog.text
        monkeypatch.setenv("REQUEST_KEY", REQUEST_KEY)
        assert (
            headers(reply_of(handler.lambda_handler(http_api_event(skill_body("BLACKPINK")), None)))[0] == "BLACKPINK"
        )
    finally:
        handler.reset()


def test_the_handler_builds_one_app_per_container_and_survives_bad_settings(skill_env, monkeypatch):
    handler.reset()
    monkeypatch.setenv("MART_URL", "postgres://nope")
    reply = reply_of(handler.lambda_handler(http_api_event(skill_body("BLACKPINK")), None))
    assert texts(reply)[0].startswith("죄송해요")
    for name, value in skill_env.items():
        monkeypatch.setenv(name, value)
    try:
        assert (
            headers(reply_of(handler.lambda_handler(http_api_event(skill_body("BLACKPINK")), None)))[0] == "BLACKPINK"
        )
        first = handler.application()
        handler.lambda_handler(http_api_event(skill_body("IU")), None)
        assert handler.application() is first and first.repository.connections_opened == 1
    finally:
        handler.reset()


class _Context:
    def __init__(self, ms: int):
        self.ms = ms

    def get_remaining_time_in_millis(self) -> int:
        return self.ms


def test_the_deadline_follows_the_lambdas_remaining_time(app):
    assert app.deadline(_Context(1000)).remaining() <= 0.7
    assert app.deadline(None).remaining() <= 3.0
    assert 2.5 < app.deadline(_Context(60_000)).remaining() <= 3.0


@pytest.mark.parametrize(
    "env, message",
    [
        ({"MART_URL": "mysql://host/db"}, "MART_URL='mysql://host/db' is neither"),
        ({"TIME_BUDGET_SECONDS": "soon"}, "TIME_BUDGET_SECONDS='soon' is not a number"),
        ({"TIME_BUDGET_SECONDS": "9"}, "TIME_BUDGET_SECONDS=9 is outside 0.5..4.5"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='LOUD' is not one of"),
        ({"MART_URL": "jdbc:mysql://host:port/mart"}, "MART_URL='jdbc:mysql://host:port/mart': Port could not"),
        ({"CHAT_LISTENS_PER_USER_PER_DAY": "-1"}, "CHAT_LISTENS_PER_USER_PER_DAY=-1 is outside 0..1000"),
        ({"CHAT_LISTENS_RETENTION_DAYS": "0"}, "CHAT_LISTENS_RETENTION_DAYS=0 is outside 1..3650"),
    ],
)
def test_bad_settings_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_secrets_come_from_aws_secrets_manager(mysql_mart, moto_aws):
    import boto3

    conn = mysql_mart.reader()
    chatbot_mart.fill(conn, "mysql", 10)
    conn.close()
    client = boto3.client("secretsmanager")
    client.create_secret(Name="mart/chatbot", SecretString=json.dumps({"password": mysql_mart.password}))
    client.create_secret(Name="spotify", SecretString=json.dumps({"client_id": "cid", "client_secret": "csec"}))
    client.create_secret(Name="skill", SecretString="from-secrets-manager")
    client.create_secret(Name="request-key", SecretString=json.dumps({"key": "a request key from secrets manager"}))
    settings = Settings.from_env(
        {
            "REQUEST_KEY_SECRET": "request-key",
            "MART_URL": mysql_mart.url,
            "MART_USER": mysql_mart.user,
            "MART_PASSWORD_SECRET": "mart/chatbot",
            "SPOTIFY_CREDENTIALS_SECRET": "spotify",
            "SKILL_SECRET_ID": "skill",
        }
    )
    assert (settings.spotify_client_id, settings.spotify_client_secret) == ("cid", "csec")
    assert settings.request_key == "a request key from secrets manager" and "from secrets" not in repr(settings)
    assert "csec" not in repr(settings) and mysql_mart.password not in repr(settings)
    skill = SkillApp(settings)
    response = skill.handle(http_api_event(skill_body("NewJeans"), {"x-skill-secret": "from-secrets-manager"}))
    assert headers(reply_of(response))[0] == "NewJeans"
    skill.repository.close()
    with pytest.raises(SettingsError, match="cannot read secret 'missing'"):
        Settings.from_env({"REQUEST_KEY": REQUEST_KEY, "MART_PASSWORD_SECRET": "missing"})


def test_concurrent_containers_share_nothing(served_mart, skill_env):
    """Lambda runs one request per container at a time; separate apps (containers) may run in parallel."""
    results, errors = [], []

    def container(name: str) -> None:
        skill = SkillApp(Settings.from_env(skill_env))
        try:
            for _ in range(20):
                results.append(headers(ask(skill, name))[0])
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            skill.repository.close()

    threads = [threading.Thread(target=container, args=(name,)) for name in ("IU", "TWICE", "Artist 3")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and sorted(set(results)) == ["Artist 3", "IU", "TWICE"] and len(results) == 60
