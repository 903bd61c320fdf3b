"""Shared fixtures: one local SparkSession with Delta for the whole run, configured like conf/local.toml."""

from __future__ import annotations

import pytest

from jobs.common.config import load_config, set_path
from jobs.common.spark import start_spark

TEST_SPARK_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "2g",
}


@pytest.fixture(scope="session")
def spark():
    config = load_config()
    set_path(config, "spark.master", "local[2]")
    for key, value in TEST_SPARK_CONF.items():
        set_path(config, f'spark.conf."{key}"', value)
    session = start_spark(config, "tests")
    yield session
    session.stop()


@pytest.fixture
def lake_dir(tmp_path):
    return str(tmp_path / "lake")
