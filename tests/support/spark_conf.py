"""Spark and Delta settings for the tiny tables of the tests, shared by the session fixture and the jobs
that tests start as subprocesses.

Delta rebuilds a table's state (its log replayed into ``snapshotPartitions`` tasks, 50 by default) each
time a snapshot is built; on tables of a few rows those tasks, not the data, are the cost of a read, a
write or a MERGE. The settings change how much parallelism Spark uses, never what a job computes.
"""

from __future__ import annotations

SMALL_DATA_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.databricks.delta.snapshotPartitions": "1",
}


def set_args(conf: dict[str, str] = SMALL_DATA_CONF) -> list[str]:
    """``--set`` arguments giving a job started as a subprocess the settings in ``conf``."""
    args: list[str] = []
    for key, value in conf.items():
        args += ["--set", f'spark.conf."{key}"="{value}"']
    return args
