"""Secret reads (shared/secrets.py) are bounded in wall-clock time, remember a failure for a while,
and strip the trailing line break a stored secret may carry."""

from __future__ import annotations

import socket
import threading
import time

import boto3
import pytest

from chatbot_lambda import handler
from shared import secrets
from shared.secrets import SecretError, secret_value, secret_values
from tests.support.skill_calls import http_api_event, reply_of, skill_body, texts


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never answers (nor closes it)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.accepted: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)

    def close(self):
        self.stopped.set()
        self.thread.join()
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent_aws(monkeypatch):
    server = SilentServer()
    for name, value in {
        "AWS_ENDPOINT_URL": server.url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    secrets.forget_failures()
    yield server
    secrets.forget_failures()
    server.close()


def test_a_silent_endpoint_fails_within_the_deadline_and_is_not_asked_again_at_once(silent_aws):
    started = time.monotonic()
    with pytest.raises(SecretError, match=r"cannot read secret 'mart/pw'.*(no answer within 0.8 s|timed out)"):
        secret_value("mart/pw", deadline=0.8)
    waited = time.monotonic() - started
    assert waited < 3.0, waited  # botocore's default (60 s reads, retries) took 10.7 s and more
    assert len(silent_aws.accepted) >= 1
    asked = len(silent_aws.accepted)
    started = time.monotonic()
    with pytest.raises(SecretError, match="not asked again yet"):
        secret_value("mart/pw", deadline=0.8)
    assert len(silent_aws.accepted) == asked  # remembered: no new connection
    secrets.forget_failures()
    with pytest.raises(SecretError, match="cannot read secret 'mart/pw'"):
        secret_value("mart/pw", deadline=0.5)
    time.sleep(0.3)
    assert len(silent_aws.accepted) > asked  # forgotten: asked again


def test_the_lambda_apologizes_at_once_while_secrets_manager_is_silent(silent_aws, monkeypatch, caplog):
    monkeypatch.setenv("MART_URL", "jdbc:mysql://127.0.0.1:3307/mart")
    monkeypatch.setenv("MART_PASSWORD_SECRET", "mart/chatbot")
    monkeypatch.delenv("MART_PASSWORD", raising=False)
    handler.reset()
    try:
        started = time.monotonic()
        cold = reply_of(handler.lambda_handler(http_api_event(skill_body("BLACKPINK")), None))
        cold_seconds = time.monotonic() - started
        asked = len(silent_aws.accepted)
        warm = reply_of(handler.lambda_handler(http_api_event(skill_body("BLACKPINK")), None))
    finally:
        handler.reset()
    assert texts(cold)[0].startswith("죄송해요") and texts(warm)[0].startswith("죄송해요")
    assert cold_seconds < secrets.DEADLINE_SECONDS + 2.0, cold_seconds  # Lambda's limit is 5 s
    assert asked >= 1 and len(silent_aws.accepted) == asked  # the warm invocation did not ask again
    assert "cannot start: cannot read secret 'mart/chatbot'" in caplog.text


def test_a_trailing_line_break_of_a_stored_secret_is_stripped(moto_aws):
    secrets.forget_failures()
    client = boto3.client("secretsmanager")
    client.create_secret(Name="plain", SecretString="s3cret\n")
    client.create_secret(Name="crlf", SecretString="s3cret\r\n")
    client.create_secret(Name="json", SecretString='{"client_id": "cid\\n", "client_secret": "csec"}\n')
    assert secret_value("plain") == "s3cret" and secret_value("crlf") == "s3cret"
    assert secret_values("json", "client_id", "client_secret") == ("cid", "csec")
