"""Fixtures of the deploy tests: moto's accounts emptied, the artifacts and lake buckets made."""

from __future__ import annotations

import urllib.request

import boto3
import pytest


def reset_moto(endpoint: str) -> None:
    """Empty moto's accounts: they live in this process across servers, so tests start and leave them empty."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()


@pytest.fixture
def buckets(moto_aws):
    reset_moto(moto_aws)
    s3 = boto3.client("s3")
    for bucket in ("artifacts", "lake-bucket"):
        s3.create_bucket(Bucket=bucket)
    yield s3
    reset_moto(moto_aws)
