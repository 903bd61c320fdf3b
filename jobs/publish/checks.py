"""The publish's guards (steps 1 and 3 of the protocol in ``jobs/publish/mart.py``): the drop guard
before any write, and the checks of the staging tables before the swap, each next to its error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from jobs.common.errors import MartError
from jobs.common.jdbc import MartConnection
from mart.schema import REASONS, STAGING

log = logging.getLogger("jobs.publish.mart")  # the publish's log lines keep one logger name

# Tables the drop guard compares with the live set.
GUARDED_TABLES = ("artists", "top_tracks", "related_artists")


class PublishRefused(MartError):
    """The drop guard refused a publish: its row counts fall far below the live ones."""


def drop_guard(
    live: Mapping[str, int], expected: Mapping[str, int], max_drop: float, force: bool, action: str = "publish"
) -> None:
    """Raise PublishRefused when a guarded table's new rows fall below ``1 - max_drop`` of its live
    rows (an empty live table guards nothing); with ``force``, log a warning instead."""
    floor = 1 - max_drop
    short = [
        f"{table} {expected[table]:,} < {floor:.0%} of live {live[table]:,}"
        for table in GUARDED_TABLES
        if live[table] > 0 and expected[table] < floor * live[table]
    ]
    if not short:
        return
    if force:
        log.warning("drop guard overridden (--force): %s", "; ".join(short))
        return
    raise PublishRefused(
        f"{action} refused: the new set is much smaller than the live one ({'; '.join(short)}; "
        f"mart.max_drop={max_drop}). Nothing was changed. "
        f"If the drop is intended, run again with --force"
    )


class PublishCheckFailed(MartError):
    """The staging tables failed a check; the live set was left as it was."""


@dataclass(frozen=True)
class Expected:
    """What the staging set must hold: ``rows`` written per table, and for the related rows the
    ``artists_with_vector`` and ``k`` of the similarity run (``None``: taken from the rows, see
    ``related_per_artist``)."""

    rows: Mapping[str, int]
    artists_with_vector: int | None = None
    k: int | None = None


def dangling_references(conn: MartConnection, table: str, column: str) -> tuple[int, list[str]]:
    """The rows of staging ``table`` and the problem of its ``column`` naming no staged artist."""
    rows, dangling = conn.query(
        f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN a.artist_id IS NULL THEN 1 ELSE 0 END), 0) "
        f"FROM {table}{STAGING} t LEFT JOIN artists{STAGING} a ON a.artist_id = t.{column}"
    )[0]
    problems = [f"{int(dangling):,} rows of {table}.{column} name no artist of the new set"] if int(dangling) else []
    return int(rows), problems


def related_references(conn: MartConnection) -> tuple[int, list[str]]:
    """The staged related rows and, in one scan, those naming no staged artist or the artist itself, and
    those whose ``reason`` is not one of ``mart.schema.REASONS`` (the chatbot could not word it)."""
    known = ", ".join("?" * len(REASONS))
    rows, no_artist, no_related, selfish, unknown = conn.query(
        f"SELECT COUNT(*), "
        f"COALESCE(SUM(CASE WHEN a.artist_id IS NULL THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN b.artist_id IS NULL THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN r.artist_id = r.related_id THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN r.reason IN ({known}) THEN 0 ELSE 1 END), 0) "
        f"FROM related_artists{STAGING} r LEFT JOIN artists{STAGING} a ON a.artist_id = r.artist_id "
        f"LEFT JOIN artists{STAGING} b ON b.artist_id = r.related_id",
        REASONS,
    )[0]
    problems = [
        f"{int(bad):,} rows of related_artists.{column} name no artist of the new set"
        for bad, column in ((no_artist, "artist_id"), (no_related, "related_id"))
        if int(bad)
    ]
    if int(selfish):
        problems.append(f"{int(selfish):,} artists are related to themselves")
    if int(unknown):
        problems.append(f"{int(unknown):,} rows of related_artists.reason are not one of {', '.join(REASONS)}")
    return int(rows), problems


def staged_counts(staged: Mapping[str, int], written: Mapping[str, int]) -> list[str]:
    """A problem for each table whose staged rows are not the rows written."""
    return [
        f"{table}{STAGING} holds {staged[table]:,} rows, {rows:,} were written"
        for table, rows in written.items()
        if staged[table] != rows
    ]


def related_per_artist(conn: MartConnection, artists_with_vector: int | None, k: int | None) -> list[str]:
    """Problems unless each of the ``n`` artists with a vector has ``min(k, n - 1)`` related rows
    ranked 1.. (so none at all when ``n`` is 1). Without ``artists_with_vector`` the artists with a
    vector are the ones that have related rows; without ``k``, k is the largest count found."""
    problems = []
    # One scan: how many artists have each (count, lowest rank, highest rank) of related rows.
    shapes = [
        (int(c), int(lo), int(hi), int(n))
        for c, lo, hi, n in conn.query(
            f"SELECT c, lo, hi, COUNT(*) FROM (SELECT artist_id, COUNT(*) AS c, MIN(`rank`) AS lo, MAX(`rank`) AS hi "
            f"FROM related_artists{STAGING} GROUP BY artist_id) x GROUP BY c, lo, hi"
        )
    ]
    if k is None:  # no expectation given: every artist must have as many as the most complete one
        k = max((c for c, _, _, _ in shapes), default=0)
    with_related = sum(n for *_, n in shapes)
    vectors = with_related if artists_with_vector is None else artists_with_vector
    per_artist = min(k, max(vectors - 1, 0))
    if per_artist == 0 and with_related:
        problems.append(
            f"{with_related:,} artists have related artists, none should ({vectors:,} artists with a vector, k={k})"
        )
    elif per_artist and with_related != vectors:
        problems.append(f"{with_related:,} artists have related artists, {vectors:,} have a vector")
    uneven = sum(n for c, lo, hi, n in shapes if c != per_artist or lo != 1 or hi != per_artist)
    if uneven:
        problems.append(
            f"{uneven:,} artists do not have exactly {per_artist} related artists ranked "
            f"1..{per_artist} (k={k}, {vectors:,} artists with a vector)"
        )
    return problems


def check_staging(conn: MartConnection, expected: Expected) -> None:
    """Raise PublishCheckFailed unless the staging set is complete and consistent.

    One scan per table: row counts, references to artists, self relations, then the related rows
    per artist; every problem found is named, in that order, in one message.
    """
    problems = []
    staged = {"artists": int(conn.scalar(f"SELECT COUNT(*) FROM artists{STAGING}"))}
    for table, column in (("artist_aliases", "artist_id"), ("top_tracks", "artist_id")):
        staged[table], found = dangling_references(conn, table, column)
        problems += found
    staged["related_artists"], found = related_references(conn)
    problems += found
    problems += staged_counts(staged, expected.rows)
    problems += related_per_artist(conn, expected.artists_with_vector, expected.k)
    if problems:
        raise PublishCheckFailed(
            "publish stopped, the live set is unchanged; the staging tables failed checks: " + "; ".join(problems)
        )
    log.info("staging checks passed: %s", ", ".join(f"{t} {c:,}" for t, c in staged.items()))
