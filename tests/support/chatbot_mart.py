"""A served mart for chatbot tests and the chatbot benchmark, written with plain DB-API (no Spark).

``fill(conn, dialect, n)`` creates the mart's tables from its versioned DDL and writes ``n``
generated artists (``Artist 0`` ...), 3 top tracks each and 3 related artists each, plus a few
real-looking ones with aliases (``BLACKPINK`` / ``블랙핑크``, ``Red Velvet`` / ``레드벨벳``, ...), a
two-syllable Korean name (``태연``), and names with an accent, punctuation and several words.
Related artists are chosen by sound (``reason``), but IU's and NewJeans' are chosen by each reason
(``REASONS``), so that the chatbot words every one.
"""

from __future__ import annotations

from mart import schema
from shared.names import initials, name_key, rev_key

# (artist_id, name, aliases, popularity)
NAMED = [
    ("bp", "BLACKPINK", ["블랙핑크", "블핑"], 99),
    ("rv", "Red Velvet", ["레드벨벳"], 90),
    ("tw", "TWICE", ["트와이스"], 95),
    ("iu", "IU", ["아이유"], 97),
    ("nj", "NewJeans", ["뉴진스"], 96),
    ("ty", "태연", ["Taeyeon"], 80),
    ("bey", "Beyoncé", [], 85),
    ("tyl", "Tyler, The Creator", [], 70),
    ("jsb", "Johann Sebastian Bach", [], 50),
]
RELATED = {
    "bp": ["tw", "rv", "nj"],
    "rv": ["tw", "bp", "iu"],
    "tw": ["bp", "rv", "nj"],
    "iu": ["nj", "rv", "tw"],
    "nj": ["bp", "tw", "iu"],
    "ty": ["iu", "rv", "tw"],
    "bey": ["tyl", "bp", "tw"],
    "tyl": ["bey", "jsb", "nj"],
    "jsb": ["tyl", "bey", "iu"],
}
# related_artists.reason by rank, where it is not "sound"
REASONS = {"iu": ["listeners", "both", "sound"], "nj": ["both", "listeners", "listeners"]}


def artist_id(i: int) -> str:
    return f"gen{i:07d}"


def tracks_of(artist: str, name: str) -> list[tuple]:
    return [
        (artist, rank, f"{artist}-t{rank}", f"{name} Song {rank}", f"{name} Album", f"https://i.test/{artist}/{rank}")
        for rank in (1, 2, 3)
    ]


def artist_row(artist: str, name: str, image, url, genres, popularity) -> tuple:
    """A row of the mart's artists table, with its lookup and suggestion keys."""
    key = name_key(name)
    return (artist, name, key, image, url, genres, popularity, rev_key(key), initials(key))


def alias_row(alias: str, artist: str) -> tuple:
    key = name_key(alias)
    return (key, artist, rev_key(key), initials(key))


def rows(n: int) -> dict[str, list[tuple]]:
    artists, aliases, tracks, related = [], [], [], []
    for artist, name, names, popularity in NAMED:
        artists.append(
            artist_row(
                artist,
                name,
                f"https://i.test/{artist}",
                f"https://open.spotify.com/artist/{artist}",
                "k-pop",
                popularity,
            )
        )
        aliases.extend(alias_row(alias, artist) for alias in names)
        tracks.extend(tracks_of(artist, name))
        reasons = REASONS.get(artist, ["sound"] * len(RELATED[artist]))
        related.extend(
            (artist, rank, other, 0.1 * rank, reason)
            for rank, (other, reason) in enumerate(zip(RELATED[artist], reasons), 1)
        )
    for i in range(n):
        artist, name = artist_id(i), f"Artist {i}"
        artists.append(artist_row(artist, name, None, None, None, i % 90))
        tracks.extend(tracks_of(artist, name))
        related.extend((artist, rank, artist_id((i + rank) % n), 0.01 * rank, "sound") for rank in (1, 2, 3) if n > 3)
    return {"artists": artists, "artist_aliases": aliases, "top_tracks": tracks, "related_artists": related}


def create_tables(conn, dialect: str) -> None:
    cursor = conn.cursor()
    for table in schema.ALL_TABLES:
        for statement in schema.create_statements(dialect, table):
            cursor.execute(statement)
    cursor.close()


def fill(conn, dialect: str, n: int = 20, batch: int = 5000) -> None:
    """Create the tables and write the artists (committed; the connection is in autocommit mode)."""
    create_tables(conn, dialect)
    mark = "?" if dialect == "sqlite" else "%s"
    cursor = conn.cursor()
    if dialect == "sqlite":
        cursor.execute("BEGIN")
    for table, values in rows(n).items():
        columns = schema.COLUMNS[table]
        quoted = ", ".join(f"`{c}`" for c in columns)
        sql = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join([mark] * len(columns))})"
        for start in range(0, len(values), batch):
            cursor.executemany(sql, values[start : start + batch])
    if dialect == "sqlite":
        cursor.execute("COMMIT")
    cursor.close()


def snapshot(conn, tables=schema.SERVING_TABLES) -> dict[str, list[tuple]]:
    """Every row of the given tables, sorted: to show that something did not change."""
    out = {}
    for table in tables:
        cursor = conn.cursor()
        cursor.execute(f"SELECT * FROM {table}")
        out[table] = sorted(tuple(str(v) for v in row) for row in cursor.fetchall())
        cursor.close()
    return out
