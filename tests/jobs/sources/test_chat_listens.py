"""The chatbot's known answers per signed user (the mart's ``chat_listens``) read by the ingest as listening
data (jobs/sources/chat_listens.py), on a real MariaDB and on SQLite."""

from __future__ import annotations

import datetime
import logging

import pytest

from jobs.common.errors import ConfigError
from jobs.common.jdbc import MartTarget
from jobs.common.schemas import ARTIST_CONTEXTS
from jobs.sources import chat_listens
from mart import schema, serving

A, B, C = "a" * 32, "b" * 32, "c" * 32


def target_of(mart) -> MartTarget:
    return MartTarget.from_config(mart.config()["mart"], mart.env())


def days_ago(now: datetime.datetime, days: int) -> str:
    return (now.date() - datetime.timedelta(days=days)).isoformat()


def listening_mart(mart, rows: list[tuple]) -> None:
    """The mart's chat_listens table alone, with ``(user_hash, artist_id, day, asks)`` rows."""
    conn = mart.reader()
    try:
        for statement in schema.create_statements(mart.dialect, "chat_listens"):
            serving.fetch_all(conn, statement)
        mark = "?" if mart.dialect == "sqlite" else "%s"
        cursor = conn.cursor()
        cursor.executemany(f"INSERT INTO chat_listens VALUES ({mark}, {mark}, {mark}, {mark})", rows)
        cursor.close()
    finally:
        conn.close()


def left_in(mart) -> list[tuple]:
    conn = mart.reader()
    try:
        return sorted(
            (str(u), str(a), str(d))
            for u, a, d in serving.fetch_all(conn, "SELECT user_hash, artist_id, day FROM chat_listens")
        )
    finally:
        conn.close()


@pytest.mark.clock  # the retention, from the test's own clock
def test_each_users_artists_weighted_by_days_asked_capped_and_rows_past_the_retention_deleted(
    spark, any_mart, monkeypatch, caplog
):
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    kept = [(A, "bp", days_ago(now, d), 1 + d) for d in range(5)]  # five days: capped at 3
    kept += [(A, "iu", days_ago(now, 30), 10), (B, "tw", days_ago(now, 90), 1)]
    old = [(B, "tw", days_ago(now, 91), 2), (C, "nj", days_ago(now, 200), 1), (C, "iu", days_ago(now, 400), 1)]
    listening_mart(any_mart, kept + old)
    monkeypatch.setattr(chat_listens, "DELETE_ROWS", 2)  # in bounded statements, to the end
    with caplog.at_level(logging.INFO, logger="jobs.sources.chat_listens"):
        frame = chat_listens.chat_contexts(spark, target_of(any_mart), now, retention_days=90, weight_cap=3)
    assert "deleted 3 rows" in caplog.text
    assert left_in(any_mart) == sorted(row[:3] for row in kept)
    assert frame.schema.fieldNames() == ARTIST_CONTEXTS.fieldNames()
    assert [field.dataType for field in frame.schema] == [field.dataType for field in ARTIST_CONTEXTS]
    assert sorted(tuple(row) for row in frame.collect()) == [
        (A, "bp", 3.0, "chat"),
        (A, "iu", 1.0, "chat"),
        (B, "tw", 1.0, "chat"),
    ]


def test_a_mart_without_the_table_gives_no_contexts_and_says_so(spark, sqlite_mart, caplog):
    conn = sqlite_mart.reader()
    serving.fetch_all(conn, "CREATE TABLE artists (artist_id TEXT)")  # a mart of schema version 3
    conn.close()
    now = datetime.datetime(2026, 12, 6)
    with caplog.at_level(logging.INFO, logger="jobs.sources.chat_listens"):
        frame = chat_listens.chat_contexts(spark, target_of(sqlite_mart), now, retention_days=90, weight_cap=3)
    assert frame.schema == ARTIST_CONTEXTS and frame.collect() == []
    assert "the mart has no chat_listens table yet" in caplog.text
    with pytest.raises(ConfigError, match="retention must be at least 1 day"):
        chat_listens.chat_contexts(spark, target_of(sqlite_mart), now, retention_days=0, weight_cap=3)
