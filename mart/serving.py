"""Reading the mart the way the chatbot does: DB-API connections and one-statement lookups.

Each lookup is a single SQL statement, so it reads one consistent set of
serving tables even while a publish swaps them (MySQL opens every table of a
statement under one metadata lock; SQLite reads one WAL snapshot).
Values are always bound as parameters.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Sequence
from urllib.parse import parse_qs, unquote, urlsplit

from mart.names import name_key


class MartUrlError(ValueError):
    """A mart URL this module cannot connect to."""


def connect(url: str, user: str = "", password: str = "", timeout: float = 5.0, readonly: bool = False):
    """A DB-API connection (autocommit) for a mart JDBC URL: ``jdbc:sqlite:<file>`` or ``jdbc:mysql://...``."""
    if url.startswith("jdbc:sqlite:"):
        path = url[len("jdbc:sqlite:"):].split("?", 1)[0].removeprefix("file:")
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout, isolation_level=None,
                                   check_same_thread=False)
        else:
            conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        return conn
    match = re.match(r"^jdbc:(mysql|mariadb)://", url)
    if not match:
        raise MartUrlError(f"mart URL {url.split('?')[0]!r} is neither jdbc:sqlite: nor jdbc:mysql://")
    import pymysql  # only MySQL marts need it

    parts = urlsplit(url[len("jdbc:"):])
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return pymysql.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
                           user=user or query.get("user", ""), password=password or query.get("password", ""),
                           database=unquote(parts.path.lstrip("/")) or None, charset="utf8mb4",
                           autocommit=True, connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout)


def _sql(conn, sql: str) -> str:
    """``?`` placeholders in the connection's own parameter style."""
    return sql if isinstance(conn, sqlite3.Connection) else sql.replace("?", "%s")


def fetch_all(conn, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    cursor = conn.cursor()
    try:
        if params:
            cursor.execute(_sql(conn, sql), tuple(params))
        else:   # no parameters: the text is sent as it is (pymysql would otherwise read % as a placeholder)
            cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


@dataclass
class Track:
    rank: int
    name: str
    album_name: str | None
    image_url: str | None = None


@dataclass
class ArtistCard:
    artist_id: str
    name: str | None           # None: the related artist is missing from artists (never, after a checked publish)
    image_url: str | None
    spotify_url: str | None
    distance: float | None     # None for the artist asked about
    tracks: list[Track] = field(default_factory=list)


# The artist a key names (its own name first, then aliases; most popular first), that artist's
# related artists by rank, and each one's best top tracks: one statement, one consistent read.
LOOKUP_SQL = """
WITH matched AS (
  SELECT artist_id FROM (
    SELECT artist_id, 0 AS pref, popularity FROM artists WHERE name_key = ?
    UNION ALL
    SELECT l.artist_id, 1 AS pref, NULL AS popularity FROM artist_aliases l WHERE l.alias_key = ?
  ) candidates
  ORDER BY pref, popularity DESC, artist_id
  LIMIT 1
), cards AS (
  SELECT 0 AS slot, artist_id, NULL AS distance FROM matched
  UNION ALL
  SELECT r.`rank` AS slot, r.related_id AS artist_id, r.distance FROM related_artists r
  JOIN matched m ON r.artist_id = m.artist_id
)
SELECT c.slot, c.artist_id, a.name, a.image_url, a.spotify_url, c.distance, t.`rank`, t.name, t.album_name,
       t.image_url
FROM cards c
LEFT JOIN artists a ON a.artist_id = c.artist_id
LEFT JOIN top_tracks t ON t.artist_id = c.artist_id AND t.`rank` <= ?
ORDER BY c.slot, t.`rank`
"""


def find_artist(conn, text: str, tracks: int = 3) -> list[ArtistCard]:
    """The cards for a typed name: the artist first, then its related artists; ``[]`` when nothing matches."""
    key = name_key(text)
    if not key:
        return []
    cards: dict[int, ArtistCard] = {}
    for slot, artist_id, name, image, url, distance, rank, track, album, track_image in fetch_all(
            conn, LOOKUP_SQL, (key, key, int(tracks))):
        card = cards.get(slot)
        if card is None:
            card = cards[slot] = ArtistCard(artist_id, name, image, url,
                                            None if distance is None else float(distance))
        if rank is not None:
            card.tracks.append(Track(int(rank), track, album, track_image))
    return [cards[slot] for slot in sorted(cards)]


def popular_artists(conn, limit: int) -> list[str]:
    """Names of the ``limit`` most popular artists that have related artists."""
    return [name for (name,) in fetch_all(
        conn, "SELECT a.name FROM artists a WHERE EXISTS (SELECT 1 FROM related_artists r "
              "WHERE r.artist_id = a.artist_id) ORDER BY a.popularity DESC, a.artist_id LIMIT ?", (int(limit),))]


def describe_popular(conn, limit: int) -> list[str]:
    """One line per popular artist: its top tracks, then its related artists with distances.

    An artist whose name finds nothing (a name without a usable key, or a publish swapping
    the tables between the two statements) is left out.
    """
    lines = []
    for name in popular_artists(conn, limit):
        cards = find_artist(conn, name)
        if not cards:
            continue
        artist, *related = cards
        tracks = ", ".join(track.name for track in artist.tracks)
        lines.append(f"{artist.name} [{tracks}]  ->  "
                     + ", ".join(f"{card.name} ({card.distance:.3f})" for card in related))
    return lines
