"""Starting Spark: which Maven packages a local start resolves, and the cache warm-up's entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jobs.common.config import load_config
from jobs.common.spark import maven_packages, warm_package_cache
from tests.support.paths import REPO

SPARK_CFG = {
    "packages": ["io.delta:delta-spark_2.13:4.0.0", "org.xerial:sqlite-jdbc:3.51.1.0"],
    "s3a_packages": ["org.apache.hadoop:hadoop-aws:3.4.1", "org.xerial:sqlite-jdbc:3.51.1.0"],
}


def test_s3a_packages_are_added_once_and_only_for_an_s3a_lake():
    assert maven_packages(SPARK_CFG, s3a=False) == SPARK_CFG["packages"]
    assert maven_packages(SPARK_CFG, s3a=True) == [*SPARK_CFG["packages"], "org.apache.hadoop:hadoop-aws:3.4.1"]
    assert maven_packages({}, s3a=True) == []


def test_the_warm_up_refuses_to_run_beside_a_running_session(spark):
    with pytest.raises(RuntimeError, match="process of its own"):
        warm_package_cache(load_config())
    assert spark.range(3).count() == 3  # the running session was left alone


def test_the_warm_up_explains_itself():
    done = subprocess.run(
        [sys.executable, "-m", "jobs.common.spark", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert "ivy_cache" in done.stdout and "--config" in done.stdout
