"""The staging writes (step 2 of the protocol in ``jobs/publish/mart.py``): each serving table is written
to ``<table>__staging``, by ``LOAD DATA LOCAL INFILE`` streamed from the Spark tasks (``load_data.py``,
MySQL/MariaDB) or by Spark's JDBC writer in batches (SQLite, or MySQL when the other path is off).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from pyspark.sql import DataFrame

from jobs.common.jdbc import MartConnection
from jobs.publish.load_data import LoadTarget, load_frame
from jobs.publish.settings import PublishSettings
from jobs.publish.tables import add_indexes, create, staging_writers
from mart.schema import COLUMNS, STAGING, primary_key

log = logging.getLogger("jobs.publish.mart")  # the publish's log lines keep one logger name


def write_staging(
    conn: MartConnection,
    settings: PublishSettings,
    table: str,
    frame: DataFrame,
    step: Callable[[str], AbstractContextManager],
    loader: LoadTarget | None = None,
) -> None:
    """(Re)create the staging table of ``table`` empty and append ``frame`` to it, each inside ``step``.

    With ``loader`` the table is created with its primary key only, loaded by LOAD DATA, and then
    given the secondary indexes of its DDL (one ``ALTER TABLE``, inside the step ``indexing ...``).
    """
    staging = f"{table}{STAGING}"
    with step(f"creating the staging table {staging}"):
        conn.execute(f"DROP TABLE IF EXISTS {staging}")
        tag = create(conn, table, staging, secondary=loader is None)
    partitions = staging_writers(conn, settings.write_partitions)
    mark = time.perf_counter()
    with step(f"writing the staging table {staging}"):
        if loader is None:
            _jdbc_append(settings, table, staging, frame, partitions)
        else:
            load_frame(loader, staging, COLUMNS[table], primary_key(conn.dialect, table), frame, partitions)
    if loader is not None:
        with step(f"indexing the staging table {staging}"):
            add_indexes(conn, table, staging, tag)
    # A detail: the console keeps the publish's summary line, the log file has each table's time.
    log.info("wrote %s in %.1f s", staging, time.perf_counter() - mark, extra={"detail": True})


def _jdbc_append(settings: PublishSettings, table: str, staging: str, frame: DataFrame, partitions: int) -> None:
    """Spark's JDBC writer: batched inserts, one connection and one commit per partition."""
    target = settings.target
    (
        frame.select(*COLUMNS[table])
        .coalesce(partitions)
        .write.format("jdbc")
        .option("url", target.url)
        .option("dbtable", staging)
        .option("batchsize", settings.batch_size)
        # Spark's default isolation level keeps autocommit off: one commit per partition, not per batch
        # (SQLite would otherwise sync once per row).
        .options(**target.properties())
        .mode("append")
        .save()
    )
