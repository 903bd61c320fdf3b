"""Secrets from AWS Secrets Manager (boto3; endpoint and credentials from the usual AWS settings).

Shared by the batch jobs and the chatbot: the mart's password and the Spotify credentials.
"""

from __future__ import annotations

import json


class SecretError(RuntimeError):
    """A configured secret could not be read."""


def secret_values(secret_id: str, *keys: str) -> tuple[str, ...]:
    """The secret's fields ``keys`` (one read); a plain-text secret gives its text for each key.

    Region, credentials and endpoint come from boto3's own configuration (``AWS_REGION``, the
    instance role, ``AWS_ENDPOINT_URL``...). Calls time out after a few seconds instead of
    botocore's default minute, so an unreachable Secrets Manager fails fast.
    """
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise SecretError(f"reading secret {secret_id!r} needs boto3: pip install boto3") from None
    config = Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2, "mode": "standard"})
    try:
        text = boto3.client("secretsmanager", config=config).get_secret_value(SecretId=secret_id)["SecretString"]
    except (BotoCoreError, ClientError, KeyError) as exc:
        raise SecretError(f"cannot read secret {secret_id!r} from AWS Secrets Manager: {exc}") from None
    try:
        parsed = json.loads(text)
    except ValueError:
        return tuple(text for _ in keys)
    if not isinstance(parsed, dict):
        return tuple(text for _ in keys)
    missing = [key for key in keys if key not in parsed]
    if missing:
        raise SecretError(f"secret {secret_id!r} is a JSON object without a {missing[0]!r} field")
    return tuple(str(parsed[key]) for key in keys)


def secret_value(secret_id: str, key: str = "password") -> str:
    """The secret's string; for a JSON object secret, its ``key`` field."""
    return secret_values(secret_id, key)[0]
