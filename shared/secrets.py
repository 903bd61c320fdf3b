"""Secrets from AWS Secrets Manager (boto3; endpoint and credentials from the usual AWS settings).

Shared by the batch jobs and the chatbot: the mart's password and the Spotify credentials.

Every read is bounded: it gives up after ``deadline`` seconds of wall-clock time whatever the
endpoint does (refuses, accepts and never answers, trickles), and a failed read is remembered for
``FAILURE_MEMORY_SECONDS``: asking for the same secret again within that time fails at once with
the same error, so a warm Lambda invocation answers its apology without waiting again.
"""

from __future__ import annotations

import json
import os
import threading
import time

DEADLINE_SECONDS = 2.0
FAILURE_MEMORY_SECONDS = 30.0

# (endpoint, secret id) -> (monotonic time of the failure, its message): this process's recent failures
_failures: dict[tuple[str, str], tuple[float, str]] = {}
_failures_lock = threading.Lock()


class SecretError(RuntimeError):
    """A configured secret could not be read."""


def forget_failures() -> None:
    """Forget the failures remembered so far: the next read of every secret asks AWS again."""
    with _failures_lock:
        _failures.clear()


def _key(secret_id: str) -> tuple[str, str]:
    return (os.environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or os.environ.get("AWS_ENDPOINT_URL", ""), secret_id)


def _remembered(secret_id: str, now: float) -> str | None:
    with _failures_lock:
        failure = _failures.get(_key(secret_id))
        if failure is not None and now - failure[0] < FAILURE_MEMORY_SECONDS:
            return failure[1]
        _failures.pop(_key(secret_id), None)
        return None


def _fail(secret_id: str, message: str) -> SecretError:
    with _failures_lock:
        _failures[_key(secret_id)] = (time.monotonic(), message)
    return SecretError(message)


def _read(secret_id: str, deadline: float) -> str:
    """The secret's string, from a thread of its own so that the wall-clock ``deadline`` holds."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise SecretError(f"reading secret {secret_id!r} needs boto3: pip install boto3") from None
    # botocore's own limits, inside the deadline: one connect, one read, at most one retry.
    config = Config(
        connect_timeout=max(0.1, min(1.0, deadline / 2)),
        read_timeout=max(0.1, deadline),
        retries={"total_max_attempts": 2, "mode": "standard"},
    )
    outcome: dict[str, object] = {}

    def call() -> None:
        try:
            client = boto3.client("secretsmanager", config=config)
            outcome["text"] = client.get_secret_value(SecretId=secret_id)["SecretString"]
        except (BotoCoreError, ClientError, KeyError) as exc:
            outcome["error"] = f"cannot read secret {secret_id!r} from AWS Secrets Manager: {exc}"
        except Exception as exc:  # anything else the SDK raises: reported, never lost in the thread
            outcome["error"] = f"cannot read secret {secret_id!r} from AWS Secrets Manager: {type(exc).__name__}: {exc}"

    worker = threading.Thread(target=call, name=f"secret {secret_id}", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():  # left to botocore's timeouts; nobody waits for it
        raise SecretError(f"cannot read secret {secret_id!r} from AWS Secrets Manager: no answer within {deadline:g} s")
    if "error" in outcome:
        raise SecretError(str(outcome["error"]))
    return str(outcome["text"])


def secret_values(secret_id: str, *keys: str, deadline: float = DEADLINE_SECONDS) -> tuple[str, ...]:
    """The secret's fields ``keys`` (one read); a plain-text secret gives its text for each key.

    Region, credentials and endpoint come from boto3's own configuration (``AWS_REGION``, the
    instance role, ``AWS_ENDPOINT_URL``...). The read gives up after ``deadline`` seconds; a failure
    is remembered for ``FAILURE_MEMORY_SECONDS`` (see the module). Trailing line breaks of a value
    (a secret stored from a file or ``echo``) are removed.
    """
    remembered = _remembered(secret_id, time.monotonic())
    if remembered is not None:
        raise SecretError(f"{remembered} (failed less than {FAILURE_MEMORY_SECONDS:g} s ago; not asked again yet)")
    try:
        text = _read(secret_id, deadline)
    except SecretError as exc:
        raise _fail(secret_id, str(exc)) from None
    try:
        parsed = json.loads(text)
    except ValueError:
        return tuple(text.rstrip("\r\n") for _ in keys)
    if not isinstance(parsed, dict):
        return tuple(text.rstrip("\r\n") for _ in keys)
    missing = [key for key in keys if key not in parsed]
    if missing:
        raise SecretError(f"secret {secret_id!r} is a JSON object without a {missing[0]!r} field")
    return tuple(str(parsed[key]).rstrip("\r\n") for key in keys)


def secret_value(secret_id: str, key: str = "password", deadline: float = DEADLINE_SECONDS) -> str:
    """The secret's string; for a JSON object secret, its ``key`` field."""
    return secret_values(secret_id, key, deadline=deadline)[0]
