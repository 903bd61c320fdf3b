"""Secrets from AWS Secrets Manager (boto3; endpoint and credentials from the usual AWS settings).

Shared by the batch jobs and the chatbot: the mart's password and the Spotify credentials.
"""

from __future__ import annotations

import json


class SecretError(RuntimeError):
    """A configured secret could not be read."""


def secret_value(secret_id: str, key: str = "password") -> str:
    """The secret's string; for a JSON object secret, its ``key`` field.

    Region, credentials and endpoint come from boto3's own configuration
    (``AWS_REGION``, the instance role, ``AWS_ENDPOINT_URL``...).
    """
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise SecretError(f"reading secret {secret_id!r} needs boto3: pip install boto3") from None
    try:
        text = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    except (BotoCoreError, ClientError, KeyError) as exc:
        raise SecretError(f"cannot read secret {secret_id!r} from AWS Secrets Manager: {exc}") from None
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if isinstance(parsed, dict):
        if key not in parsed:
            raise SecretError(f"secret {secret_id!r} is a JSON object without a {key!r} field")
        return str(parsed[key])
    return text
