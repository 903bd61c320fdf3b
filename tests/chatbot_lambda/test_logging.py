"""Each answer is one log record with structured fields, which the Lambda's JSON log format writes as keys.

The template sets ``LoggingConfig: LogFormat: JSON``: the Python runtime then writes every record as one
JSON object (timestamp, level, message, requestId) with the ``extra`` fields of the record as keys of it.
Before, the handler wrote a JSON string as the message of a plain-text line.
"""

from __future__ import annotations

import json
import logging

from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

from chatbot_lambda.app import LOG_FIELDS
from mart.requests import user_hash
from tests.support.paths import REPO
from tests.support.skill_calls import REQUEST_KEY, ask, tap

TEMPLATE = REPO / "scripts" / "lambda" / "template.yaml"
# What a LogRecord holds whatever is logged: everything else on it came from ``extra``.
STANDARD = set(vars(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None))) | {"message", "asctime"}


def answer_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "chatbot_lambda" and hasattr(r, "outcome")]


def as_lambda_json(record: logging.LogRecord) -> dict:
    """The record as the runtime's JSON format writes it: the message, the level, and the ``extra`` fields as keys."""
    fields = {key: value for key, value in vars(record).items() if key not in STANDARD}
    return json.loads(json.dumps({"level": record.levelname, "message": record.getMessage(), **fields}))


def test_each_answer_is_one_record_with_its_outcome_latency_and_intent_as_fields(app, caplog):
    caplog.set_level(logging.INFO, "chatbot_lambda")
    reply = ask(app, "블랙핑크 노래 추천해줘", user="kakao-user-42", lang="ko")
    tap(app, reply, 0, user="kakao-user-42")
    ask(app, "Some Secret Band", user="kakao-user-42")
    records = answer_records(caplog)
    assert [r.outcome for r in records] == ["known", "known", "queued"]
    logged = [as_lambda_json(r) for r in records]
    assert set(logged[0]) - {"level", "message"} <= set(LOG_FIELDS)
    assert logged[0]["intent"] == "text" and logged[1]["intent"] == "tap" and logged[1]["extra_kind"] == "artist"
    assert (
        logged[0]["artist_id"] == "bp"
        and logged[0]["lang"] == "ko"
        and logged[0]["chars"] == len("블랙핑크 노래 추천해줘")
    )
    assert all(isinstance(entry["latency_ms"], float) and entry["latency_ms"] >= 0 for entry in logged)
    assert {entry["user"] for entry in logged} == {user_hash(REQUEST_KEY, "kakao-user-42")}
    assert logged[2]["level"] == "WARNING" and logged[2]["detail"] == "live lookups are not configured"
    assert logged[2]["message"].startswith("queued in ") and "artist_id" not in logged[2]


def test_no_record_holds_what_the_user_typed_or_their_id(app, caplog):
    caplog.set_level(logging.DEBUG)
    ask(app, "Some Secret Band", user="kakao-user-42")
    ask(app, "블랙핑그", user="kakao-user-42")
    assert [r.outcome for r in answer_records(caplog)] == ["queued", "suggested"]
    for record in caplog.records:
        if record.name.startswith("chatbot_lambda"):
            text = json.dumps(as_lambda_json(record), ensure_ascii=False).lower()
            assert "kakao-user-42" not in text and "블랙핑그" not in text, text
            if hasattr(record, "outcome"):
                assert "secret band" not in text and "somesecretband" not in text, text


def test_the_template_has_the_lambda_write_json_records():
    config = load_cfn_yaml(str(TEMPLATE))["Resources"]["ChatbotFunction"]["Properties"]["LoggingConfig"]
    assert config["LogFormat"] == "JSON" and config["ApplicationLogLevel"] == "INFO"
    assert config["LogGroup"] == {"Ref": "ChatbotLogGroup"}


def test_a_mysql_error_is_logged_by_its_code_without_the_value_it_quotes():
    """MySQL's messages can quote the value being written, a user's text: the log keeps class and code."""
    import pymysql

    from chatbot_lambda.repository import _describe

    quoted = pymysql.err.DataError(1366, "Incorrect string value: '\\xF0\\x9F' for column 'name' 'Secret Band'")
    assert _describe(quoted) == "DataError 1366"
    assert _describe(RuntimeError("database is locked")) == "RuntimeError: database is locked"
