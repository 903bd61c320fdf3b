"""The staging writes (step 2 of the protocol in ``jobs/publish/mart.py``): Spark writes each serving
table to ``<table>__staging`` over JDBC, in batches.
"""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from typing import Callable

from pyspark.sql import DataFrame

from jobs.common.jdbc import MartConnection
from jobs.publish.settings import PublishSettings
from jobs.publish.tables import create, staging_writers
from mart.schema import COLUMNS, STAGING

log = logging.getLogger("jobs.publish.mart")   # the publish's log lines keep one logger name


def write_staging(conn: MartConnection, settings: PublishSettings, table: str, frame: DataFrame,
                  step: Callable[[str], AbstractContextManager]) -> None:
    """(Re)create the staging table of ``table`` empty and append ``frame`` to it, each inside ``step``."""
    staging = f"{table}{STAGING}"
    target = settings.target
    with step(f"creating the staging table {staging}"):
        conn.execute(f"DROP TABLE IF EXISTS {staging}")
        create(conn, table, staging)
    partitions = staging_writers(conn, settings.write_partitions)
    mark = time.perf_counter()
    with step(f"writing the staging table {staging}"):
        (frame.select(*COLUMNS[table]).coalesce(partitions)
         .write.format("jdbc")
         .option("url", target.url)
         .option("dbtable", staging)
         .option("batchsize", settings.batch_size)
         # Spark's default isolation level keeps autocommit off: one commit per partition, not per batch
         # (SQLite would otherwise sync once per row).
         .options(**target.properties())
         .mode("append")
         .save())
    log.info("wrote %s in %.1f s", staging, time.perf_counter() - mark)
