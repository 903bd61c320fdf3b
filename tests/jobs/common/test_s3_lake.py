"""The lake on S3 through s3a://, against moto's S3 server on 127.0.0.1 (only the endpoint differs from AWS)."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest

from mart import serving
from tests.support.paths import REPO
from tests.support.spark_conf import set_args

DT = "2026-11-22"


@pytest.mark.jvm  # starts JVMs of its own
def test_ingest_and_similarity_on_an_s3a_lake(tmp_path, moto_aws):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake-bucket")
    common = [
        "--lake",
        "s3a://lake-bucket/lake",
        "--dt",
        DT,
        "--set",
        f"lake.s3_endpoint={moto_aws}",
        "--set",
        "lake.s3_path_style=true",
        "--set",
        "spark.master=local[2]",
        "--set",
        'spark.conf."spark.driver.memory"=1g',
        *set_args(),
    ]
    mart_url = f"jdbc:sqlite:{tmp_path / 'mart.db'}"
    # Both jobs in one process and one JVM (the pipeline): one start and one resolution of the s3a packages;
    # the time allowed is what each job had in a process of its own, 600 s, twice.
    command = [
        sys.executable,
        "-m",
        "jobs.pipeline",
        "--mart",
        mart_url,
        *common,
        "--ingest-args",
        "--source synthetic --artists 300",
    ]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=2 * 600)
    assert done.returncode == 0, done.stderr[-3000:]
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="lake-bucket")
        for o in page.get("Contents", [])
    ]
    for table in ("artists", "top_tracks", "audio_features", "related_artists"):
        assert any(k.startswith(f"lake/{table}/_delta_log/") for k in keys), table
        assert any(k.startswith(f"lake/{table}/dt={DT}/") and k.endswith(".parquet") for k in keys), table
    conn = serving.connect(mart_url)
    try:
        ((rows, artists),) = serving.fetch_all(conn, "SELECT COUNT(*), COUNT(DISTINCT artist_id) FROM related_artists")
    finally:
        conn.close()
    assert artists > 250 and rows == 3 * artists
