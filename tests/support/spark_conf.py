"""Spark and Delta settings for the tiny tables of the tests, shared by the session fixture and the jobs
that tests start as subprocesses.

Delta rebuilds a table's state (its log replayed into ``snapshotPartitions`` tasks, 50 by default) each
time a snapshot is built; on tables of a few rows those tasks, not the data, are the cost of a read, a
write or a MERGE. Two shuffle partitions keep both cores busy and no task idle. Adaptive execution is off:
on tables of a few rows it has nothing to adapt, and each of its query stages runs as a Spark job of its
own (the suite ran 40% fewer jobs without it, and with two shuffle partitions 14% faster, measured on the
three heaviest modules). The settings change how much parallelism Spark uses and how it plans, never what
a job computes.
"""

from __future__ import annotations

from tests.support import spark_jobs

SMALL_DATA_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.databricks.delta.snapshotPartitions": "1",
    # Each PySpark call otherwise sends its Python call site to the JVM (about five more py4j round trips),
    # for error messages only: building the twelve signals' plan took 5,644 round trips and 1.0 s with it,
    # 1,404 and 0.34 s without.
    "spark.python.sql.dataFrameDebugging.enabled": "false",
}

# A JVM that lives for one short job spends most of its first seconds loading and compiling Spark's and
# Delta's code: compiled by C1 only (no C2) and collected by the serial collector, it leaves both cores
# to the job (about 30% less time for a job of a few seconds, measured on this 2-core machine). Not for
# the tests' long-lived session JVM, whose hot code C2 compiles once for the whole run.
SHORT_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
JOB_PROCESS_CONF = {**SMALL_DATA_CONF, "spark.driver.extraJavaOptions": SHORT_JVM_OPTIONS}


def set_args(conf: dict[str, str] = JOB_PROCESS_CONF) -> list[str]:
    """``--set`` arguments giving a job started as a subprocess the settings in ``conf``, and an event log
    that the suite's job count reads (tests/support/spark_jobs.py)."""
    args: list[str] = []
    for key, value in {**conf, **spark_jobs.event_log_conf()}.items():
        args += ["--set", f'spark.conf."{key}"="{value}"']
    return args
