"""The chatbot's known answers per signed user (the mart's ``chat_listens``) as listening data.

Each row of ``chat_listens`` says that one verified user (a keyed hash, never the Kakao id) was answered
about one known artist on one UTC day, at most a few dozen artists a user a day (``mart/listens.py``).
:func:`chat_contexts` turns them into the lake's ``artist_contexts`` layout
(``jobs.common.schemas.ARTIST_CONTEXTS``):

- one context per user: ``context_id`` is the stored hash (the HMAC the chatbot keeps for requests too);
- one row per (user, artist): ``weight`` is the number of days the user asked about the artist within
  the retention, at most ``weight_cap`` (asking every day for a month says little more than asking on
  a few days, and one user cannot outweigh many);
- ``source`` is ``chat``.

First, rows older than the retention are deleted from the mart (the chatbot deletes a few now and then;
here all of them), in bounded statements, oldest first. A mart without the table (schema version 3 or
older: ``python -m mart --migrate`` or a publish adds it) gives an empty frame and a log line.

The frame reads the mart when an action runs (Spark's JDBC reader, one connection): write it once.
"""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common.errors import ConfigError
from jobs.common.schemas import ARTIST_CONTEXTS, local_frame

if TYPE_CHECKING:
    from jobs.common.jdbc import MartConnection, MartTarget

log = logging.getLogger(__name__)

SOURCE = "chat"
TABLE = "chat_listens"
DELETE_ROWS = 50_000  # rows one retention delete takes at most: no statement holds the table for long


def chat_contexts(
    spark: SparkSession, target: MartTarget, now: datetime.datetime, retention_days: float, weight_cap: float
) -> DataFrame:
    """The chatbot's known answers as ``artist_contexts`` rows (``context_id, artist_id, weight, source``),
    one per (user, artist) asked about within ``retention_days`` of ``now`` (naive UTC), weighted by the
    days asked, at most ``weight_cap``; rows older than the retention are deleted from the mart first.
    An empty frame when the mart has no ``chat_listens`` table."""
    from jobs.common.jdbc import MartConnection
    from mart import listens

    if retention_days < 1 or weight_cap <= 0:
        raise ConfigError(
            f"chat listens: the retention must be at least 1 day (got {retention_days:g}) and the "
            f"weight cap more than 0 (got {weight_cap:g})"
        )
    cutoff = listens.cutoff_day(now, retention_days)
    with MartConnection(spark, target) as conn:
        if TABLE not in conn.tables():
            log.info(
                "chat listens: the mart has no %s table yet (schema version 3 or older); no chat listening "
                "data this run",
                TABLE,
            )
            return local_frame(spark, [], ARTIST_CONTEXTS)
        deleted = delete_expired(conn, cutoff)
    log.info(
        "chat listens: deleted %d rows from before %s (older than %g days); reading the rest",
        deleted,
        cutoff,
        retention_days,
    )
    return contexts(read_table(spark, target), cutoff, weight_cap)


def delete_expired(conn: MartConnection, cutoff: str) -> int:
    """Delete the rows of days before ``cutoff`` (YYYY-MM-DD), ``DELETE_ROWS`` at a time; returns how many."""
    from mart import listens

    sql, params = listens.prune_statement(conn.dialect, cutoff, DELETE_ROWS)
    deleted = 0
    while True:
        count = max(0, conn.execute(sql, params))
        deleted += count
        if count < DELETE_ROWS:
            return deleted


def read_table(spark: SparkSession, target: MartTarget) -> DataFrame:
    """The mart's ``chat_listens`` rows through Spark's JDBC reader (``user_hash, artist_id, day, asks``)."""
    return (
        spark.read.format("jdbc")
        .option("url", target.url)
        .option("dbtable", TABLE)
        .options(**target.properties())
        .load()
    )


def contexts(rows: DataFrame, cutoff: str, weight_cap: float) -> DataFrame:
    """``chat_listens`` rows as ``artist_contexts`` rows: per (user, artist), the distinct days from ``cutoff``
    on (a ``DATE`` or ``YYYY-MM-DD`` text column, compared as text), capped at ``weight_cap``."""
    days = F.countDistinct(F.col("day").cast("string"))
    return (
        rows.where(F.col("day").cast("string") >= F.lit(cutoff))
        .groupBy(F.col("user_hash").alias("context_id"), "artist_id")
        .agg(F.least(days.cast("double"), F.lit(float(weight_cap))).alias("weight"))
        .select("context_id", "artist_id", "weight", F.lit(SOURCE).alias("source"))
        .select(*(F.col(field.name).cast(field.dataType).alias(field.name) for field in ARTIST_CONTEXTS.fields))
    )
