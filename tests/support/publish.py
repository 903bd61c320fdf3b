"""A publisher opened on a test mart, and the live rows read back, for the publish tests."""

from __future__ import annotations

from jobs.publish.mart import Mart
from jobs.publish.settings import PublishSettings
from mart import serving


def open_mart(spark, mart, **settings) -> Mart:
    return Mart(spark, PublishSettings.from_config(mart.config(**settings), mart.env()))


def table_rows(mart, table: str) -> list[tuple]:
    conn = mart.reader()
    try:
        return serving.fetch_all(conn, f"SELECT * FROM {table} ORDER BY 1, 2")
    finally:
        conn.close()


def live_state(mart) -> dict[str, list[tuple]]:
    return {table: table_rows(mart, table) for table in ("artists", "artist_aliases", "top_tracks", "related_artists")}
