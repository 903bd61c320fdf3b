"""The EMR steps, as the deployed state machine holds them, run on a real Spark standalone cluster.

A master and two one-core workers start on 127.0.0.1 from the pinned PySpark's own launcher
(``bin/spark-class``). deploy.py deploys the template into moto; the test reads both steps back from the
state machine, downloads the code package it uploaded, and runs each step's spark-submit with only
the environment prefix changed (master, client mode, small executors, and Delta on the classpath as
EMR's delta-defaults puts it there), the code folder and the lake standing for their S3 locations.
The driver and the executors run a Python that sees site-packages but not the editable install of
this repository (``python -S``), so the jobs can only come from ``--py-files jobs.zip``, as on EMR. The
mart is a MariaDB database, reached with the packaged JDBC driver (``--jars``) and the password read
from (moto's) Secrets Manager, as on EMR.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import boto3
import pyspark
import pytest

from mart import serving
from scripts.emr import deploy, maven, steps
from tests.support import spark_jobs
from tests.support.spark_conf import SHORT_JVM_OPTIONS

SPARK_HOME = Path(pyspark.__file__).resolve().parent
DT = "2026-11-27"
LAKE_URI = "s3://lake-bucket/lake"
ARTISTS = 120


class Daemon:
    """A Spark daemon started by spark-class, its output in a log file."""

    def __init__(self, args: list[str], log: Path, env: dict):
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [str(SPARK_HOME / "bin" / "spark-class"), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 180) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = re.findall(pattern, self.text())
            if len(found) >= count:
                return found
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.log.name}: no {count} x {pattern!r}:\n{self.text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def spark_env(**more) -> dict:
    """A plain environment: no PYTHONPATH of this test process, Spark bound to 127.0.0.1, small daemons
    that start quickly (``SHORT_JVM_OPTIONS``)."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "JAVA_HOME") if k in os.environ}
    return {
        **keep,
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_MEMORY": "256m",
        "SPARK_DAEMON_JAVA_OPTS": SHORT_JVM_OPTIONS,
        **more,
    }


@pytest.fixture
def standalone(tmp_path):
    """A standalone master and two workers (1 core, 768 MiB each); yields (master URL, master daemon)."""
    daemons = [
        Daemon(
            ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", "0", "--webui-port", "0"],
            tmp_path / "master.log",
            spark_env(),
        )
    ]
    try:
        (url,) = daemons[0].wait_for(r"Starting Spark master at (spark://127\.0\.0\.1:\d+)")
        for n in (1, 2):
            (tmp_path / f"worker{n}").mkdir()
            daemons.append(
                Daemon(
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        "--host",
                        "127.0.0.1",
                        "--cores",
                        "1",
                        "--memory",
                        "768m",
                        "--webui-port",
                        "0",
                        "--work-dir",
                        str(tmp_path / f"worker{n}"),
                        url,
                    ],
                    tmp_path / f"worker{n}.log",
                    spark_env(),
                )
            )
        daemons[0].wait_for(r"Registering worker 127\.0\.0\.1:\d+ with 1 cores", count=2)
        yield url, daemons[0]
    finally:
        for daemon in reversed(daemons):
            daemon.stop()


def isolated_python(tmp_path: Path) -> Path:
    """A python for the driver and the executors: the venv's packages, without this repository on its path."""
    site = sysconfig.get_paths()["purelib"]
    wrapper = tmp_path / "python-without-repo"
    wrapper.write_text(
        f'#!/bin/sh\nexport PYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{site}"\nexec {sys.executable} -S "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


def download(s3, code_uri: str, into: Path) -> None:
    bucket, prefix = code_uri.removeprefix("s3://").split("/", 1)
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")["Contents"]:
        target = into / item["Key"].removeprefix(prefix + "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, item["Key"], str(target))


@pytest.mark.jvm  # starts JVMs of its own
def test_the_emr_steps_run_on_a_spark_standalone_cluster(standalone, buckets, mysql_mart, tmp_path, capsys):
    master_url, master = standalone
    s3 = buckets
    secret = boto3.client("secretsmanager").create_secret(
        Name="mart-batch", SecretString=json.dumps({"password": mysql_mart.password})
    )["ARN"]
    assert (
        deploy.main(
            [
                "--stack",
                "ra-standalone",
                "--bucket",
                "artifacts",
                "--lake",
                LAKE_URI,
                "--subnet",
                "subnet-0123abcd",
                "--mart-url",
                mysql_mart.url,
                "--mart-user",
                mysql_mart.user,
                "--mart-secret",
                secret,
                "--ingest-args",
                f"--source synthetic --artists {ARTISTS}",
            ]
        )
        == 0
    )
    outputs = dict(
        line.split(": ", 1)
        for line in capsys.readouterr().out.splitlines()
        if line.split(":")[0] in ("CodeUri", "StateMachineArn")
    )
    definition = boto3.client("stepfunctions").describe_state_machine(stateMachineArn=outputs["StateMachineArn"])[
        "definition"
    ]
    emr_steps = steps.steps_from_definition(definition, DT)
    code, lake = tmp_path / "code", tmp_path / "lake"
    download(s3, outputs["CodeUri"], code)

    delta_spark = maven.local_package("io.delta:delta-spark_2.13:")  # the Delta of local runs, as EMR has it
    delta_version = delta_spark.rsplit(":", 1)[1]
    delta = ":".join(str(maven.resolve(c)) for c in (delta_spark, f"io.delta:delta-storage:{delta_version}"))
    local_prefix = [
        str(SPARK_HOME / "bin" / "spark-submit"),
        "--master",
        master_url,
        "--deploy-mode",
        "client",
        "--conf",
        f"spark.driver.extraClassPath={delta}",
        "--conf",
        f"spark.executor.extraClassPath={delta}",
        "--executor-memory",
        "512m",
        "--conf",
        "spark.ui.enabled=false",
        # a tiny lake: few partitions for shuffles and Delta's log replay, no waiting for locality
        "--conf",
        "spark.sql.shuffle.partitions=2",
        "--conf",
        "spark.databricks.delta.snapshotPartitions=2",
        "--conf",
        "spark.locality.wait=0s",
        # short-lived JVMs: the driver's and the executors' start as the daemons' do
        "--conf",
        f"spark.driver.extraJavaOptions={SHORT_JVM_OPTIONS}",
        "--conf",
        f"spark.executor.extraJavaOptions={SHORT_JVM_OPTIONS}",
        *[arg for key, value in spark_jobs.event_log_conf().items() for arg in ("--conf", f"{key}={value}")],
    ]
    env = spark_env(
        PYSPARK_PYTHON=str(isolated_python(tmp_path)), **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    )
    for step in emr_steps:
        args = step["HadoopJarStep"]["Args"]
        assert args[: len(steps.EMR_PREFIX)] == list(steps.EMR_PREFIX)
        rest = args[len(steps.EMR_PREFIX) :]
        local = [a.replace(outputs["CodeUri"], str(code)).replace(LAKE_URI, str(lake)) for a in rest]
        changed = {a for a, b in zip(rest, local) if a != b}
        assert changed and all(a.startswith(outputs["CodeUri"] + "/") or a == LAKE_URI for a in changed)
        assert "--jars" in local and local[local.index("--jars") + 1] == str(
            code / "jars" / "mysql-connector-j-9.5.0.jar"
        )
        log = tmp_path / f"{step['Name'].split()[0]}.log"
        with open(log, "w") as out:
            done = subprocess.run(
                [*local_prefix, *local], cwd=code, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=900
            )
        assert done.returncode == 0, f"{step['Name']} ({log}):\n{log.read_text()[-5000:]}"

    conn = serving.connect(mysql_mart.url, mysql_mart.user, mysql_mart.password)
    try:
        ((artists, related),) = serving.fetch_all(
            conn, "SELECT COUNT(DISTINCT artist_id), COUNT(*) FROM related_artists"
        )
        ((published,),) = serving.fetch_all(conn, "SELECT COUNT(*) FROM publish_log WHERE dt = ?", (DT,))
    finally:
        conn.close()
    assert artists > 0.9 * ARTISTS and related == 3 * artists and published == 1
    # Both steps ran as applications of the cluster, each with an executor on both workers.
    log = master.text()
    apps = re.findall(r"Registered app (\w+) with ID (app-[\d-]+)", log)
    assert [name for name, _ in apps] == ["ingest", "similarity"]
    for _, app in apps:
        assert len(set(re.findall(rf"Launching executor {app}/\d+ on worker (\S+)", log))) == 2
