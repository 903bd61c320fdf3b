"""Starting a SparkSession from the ``[spark]`` section of a config.

Two ways to launch a job, same code:

* ``python jobs/similarity.py ...``: PySpark starts the JVM itself, so the
  config's ``master``, ``packages`` (Maven coordinates, resolved into the
  ``ivy_cache`` folder) and every ``[spark.conf]`` entry apply, driver memory
  included.
* ``spark-submit ... jobs/similarity.py ...`` (EMR, or by hand): the JVM is
  already running, so master, packages and driver memory come from
  spark-submit; the ``[spark.conf]`` entries that can still change are applied.

``python -m jobs.common.spark [--config FILE]`` resolves every package of the
config (``s3a_packages`` included) into ``ivy_cache`` and exits, so that later
starts, several at once included (parallel test workers), only read the cache.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Mapping

from pyspark.sql import SparkSession

from jobs.common.config import load_config, section
from jobs.common.errors import ConfigError

log = logging.getLogger(__name__)

DELTA_CHECK_CLASS = "io.delta.tables.DeltaTable"


def launched_by_spark_submit() -> bool:
    """True when this Python driver was started by spark-submit (the JVM exists already)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def start_spark(config: Mapping, app_name: str) -> SparkSession:
    """Return the active SparkSession, or start one configured by ``config["spark"]``."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    spark_cfg = section(config, "spark")
    builder = SparkSession.builder.appName(app_name)
    if not launched_by_spark_submit():
        if spark_cfg.get("master"):
            builder = builder.master(spark_cfg["master"])
        packages = maven_packages(spark_cfg, s3a=_lake_scheme(config) == "s3a")
        if packages:
            builder = builder.config("spark.jars.packages", ",".join(packages))
        if spark_cfg.get("ivy_cache"):
            builder = builder.config("spark.jars.ivy", str(Path(spark_cfg["ivy_cache"]).resolve()))
        # Python workers run the driver's interpreter (and so its installed packages) unless told otherwise.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in {**s3a_conf(config), **(spark_cfg.get("conf") or {})}.items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(spark_cfg.get("log_level", "WARN"))
    _require_delta(spark, spark_cfg)
    log.info("Spark %s started: master=%s, default parallelism %d",
             spark.version, spark.sparkContext.master, spark.sparkContext.defaultParallelism)
    return spark


def maven_packages(spark_cfg: Mapping, s3a: bool) -> list[str]:
    """The Maven coordinates a local start resolves: ``packages``, then ``s3a_packages`` for an s3a lake."""
    packages = list(spark_cfg.get("packages") or [])
    if s3a:
        packages += [p for p in spark_cfg.get("s3a_packages") or [] if p not in packages]
    return packages


def warm_package_cache(config: Mapping) -> list[str]:
    """Resolve every package of ``config["spark"]`` (s3a's included) into its ``ivy_cache`` by starting
    and stopping a ``local[1]`` JVM; returns the coordinates. Nothing else is started or written."""
    if SparkSession.getActiveSession() is not None:
        raise RuntimeError("a SparkSession is running in this process: warm the cache from a process of its own")
    spark_cfg = section(config, "spark")
    packages = maven_packages(spark_cfg, s3a=True)
    builder = SparkSession.builder.appName("ivy warm-up").master("local[1]").config("spark.ui.enabled", "false")
    if packages:
        builder = builder.config("spark.jars.packages", ",".join(packages))
    if spark_cfg.get("ivy_cache"):
        builder = builder.config("spark.jars.ivy", str(Path(spark_cfg["ivy_cache"]).resolve()))
    builder.getOrCreate().stop()
    return packages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.common.spark",
        description="Resolve the config's Maven packages (s3a's included) into its ivy_cache, then exit.")
    parser.add_argument("--config", help="a TOML config (default: conf/local.toml)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    packages = warm_package_cache(load_config(args.config))
    log.info("%d Maven packages resolved into the ivy cache: %s", len(packages), ", ".join(packages))
    return 0


def _lake_scheme(config: Mapping) -> str:
    path = str((config.get("lake") or {}).get("path", ""))
    return path.split("://", 1)[0] if "://" in path else ""


def s3a_conf(config: Mapping) -> dict[str, str]:
    """Hadoop S3A settings from ``[lake]`` for an ``s3a://`` lake: endpoint, path-style access.

    Credentials come from S3A's default chain (environment variables, instance role), never from
    the config. An ``http://`` endpoint (a local S3 such as moto's server) turns TLS off.
    """
    if _lake_scheme(config) != "s3a":
        return {}
    lake = config.get("lake") or {}
    conf = {"spark.hadoop.fs.s3a.path.style.access": str(bool(lake.get("s3_path_style", False))).lower()}
    endpoint = str(lake.get("s3_endpoint", "") or "")
    if endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = endpoint
        conf["spark.hadoop.fs.s3a.endpoint.region"] = str(lake.get("s3_region", "") or
                                                          os.environ.get("AWS_REGION", "us-east-1"))
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(not endpoint.startswith("http://")).lower()
    return conf


def _require_delta(spark: SparkSession, spark_cfg: Mapping) -> None:
    try:
        spark.sparkContext._jvm.java.lang.Class.forName(
            DELTA_CHECK_CLASS, False, spark.sparkContext._jvm.Thread.currentThread().getContextClassLoader())
    except Exception:
        packages = ",".join(spark_cfg.get("packages") or ["io.delta:delta-spark_2.13:<version>"])
        raise ConfigError(
            "Delta Lake is not on the Spark classpath. Run the job with `python jobs/<job>.py` "
            f"(it resolves {packages} itself), or pass `--packages {packages}` to spark-submit; "
            "on EMR enable the delta-defaults classification (delta.enabled=true).") from None


if __name__ == "__main__":
    sys.exit(main())
