"""What the chatbot recorded in the mart and the searches its buttons open, read back for the tests."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from mart import serving


def search_terms(url: str) -> str:
    return parse_qs(urlsplit(url).query)["search_query"][0]


def rows_of(mart, sql: str) -> list[tuple]:
    conn = mart.reader()
    try:
        return serving.fetch_all(conn, sql)
    finally:
        conn.close()


def requests_rows(mart) -> list[tuple]:
    return rows_of(mart, "SELECT name_key, name, spotify_artist_id, times FROM artist_requests ORDER BY name_key")


def request_users(mart) -> list[tuple]:
    return rows_of(mart, "SELECT name_key, user_hash FROM artist_request_users ORDER BY name_key, user_hash")
