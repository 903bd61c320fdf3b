"""Fixtures of the deploy tests: the artifacts and lake buckets made in an empty moto."""

from __future__ import annotations

import boto3
import pytest


@pytest.fixture
def buckets(moto_aws):
    s3 = boto3.client("s3")
    for bucket in ("artifacts", "lake-bucket"):
        s3.create_bucket(Bucket=bucket)
    yield s3
