"""A served mart of realistic-looking names for the chatbot benchmark, and the typos people make.

Names: 70% Latin-script (one to three words of generated syllables, some with accents, an
apostrophe or "The"), 25% Hangul (two to five syllables), 5% mixed; 5% of the artists also have a
Hangul alias. Every artist has 3 top tracks and 3 related artists, as a publish writes them.
Typos, one per query: a Latin name with one letter substituted, dropped, added or two swapped; a
Hangul name with one letter (jamo) of one syllable changed; a Hangul name typed as its initial
consonants (초성); a multi-word name typed as its last word.

MariaDB is filled with ``LOAD DATA INFILE`` (the server reads tab-separated files this process
writes), SQLite with ``executemany``.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from mart import schema
from shared.hangul import SYLLABLES
from shared.names import initials, name_key, rev_key

LATIN = [
    "ka",
    "ri",
    "so",
    "ne",
    "mo",
    "la",
    "vi",
    "ta",
    "ro",
    "mi",
    "ze",
    "lu",
    "da",
    "ko",
    "sa",
    "be",
    "na",
    "fi",
    "to",
    "el",
    "an",
    "or",
    "is",
    "ul",
    "ar",
    "en",
    "ho",
    "jo",
    "ky",
    "wa",
    "ry",
    "ph",
    "qu",
    "tr",
    "st",
    "br",
]
ACCENTED = {"e": "é", "a": "á", "o": "ö", "u": "ü", "i": "ï"}
HANGUL_COMMON = "가나다라마바사아자차카타파하이유은소민지수현우진서연태영준호리비레드벨뉴스트와핑크블랙방탄"
COMPAT_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"


def _word(rng: random.Random) -> str:
    word = "".join(rng.choice(LATIN) for _ in range(rng.randint(2, 4)))
    if rng.random() < 0.05:
        i = rng.randrange(len(word))
        word = word[:i] + ACCENTED.get(word[i], word[i]) + word[i + 1 :]
    return word.capitalize()


def _hangul(rng: random.Random, low: int = 2, high: int = 5) -> str:
    return "".join(
        rng.choice(HANGUL_COMMON) if rng.random() < 0.6 else chr(rng.choice(SYLLABLES))
        for _ in range(rng.randint(low, high))
    )


def artist_name(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.70:
        words = [_word(rng) for _ in range(rng.choices((1, 2, 3), (0.4, 0.45, 0.15))[0])]
        if rng.random() < 0.05:
            words.insert(0, "The")
        if rng.random() < 0.03 and len(words) > 1:
            words[-1] = words[-1][0] + "'" + words[-1][1:]
        return " ".join(words)
    if kind < 0.95:
        return _hangul(rng)
    return f"{_hangul(rng, 2, 3)} {_word(rng)}"


def rows(n: int, seed: int = 11) -> dict[str, list[tuple]]:
    """The mart rows of ``n`` artists (ids ``b0000000``...), in ``mart.schema.COLUMNS`` order."""
    rng = random.Random(seed)
    artists, aliases, tracks, related = [], [], [], []
    for i in range(n):
        artist, name = f"b{i:07d}", artist_name(rng)
        key = name_key(name)
        artists.append((artist, name, key, None, None, None, rng.randint(0, 100), rev_key(key), initials(key)))
        if rng.random() < 0.05:
            alias = name_key(_hangul(rng))
            aliases.append((alias, artist, rev_key(alias), initials(alias)))
        tracks.extend((artist, rank, f"{artist}t{rank}", f"Song {rank} of {name}", "Album", None) for rank in (1, 2, 3))
        related.extend(
            (artist, rank, f"b{(i + rank * 7) % n:07d}", 0.01 * rank, ("sound", "listeners", "both")[rank - 1])
            for rank in (1, 2, 3)
        )
    unique_aliases = list({row[0]: row for row in aliases}.values())
    return {"artists": artists, "artist_aliases": unique_aliases, "top_tracks": tracks, "related_artists": related}


def typo(rng: random.Random, name: str) -> tuple[str, str]:
    """``(what a fan types, kind)`` for ``name``: one realistic mistake, or a shortcut."""
    hangul = [i for i, ch in enumerate(name) if ord(ch) in SYLLABLES]
    words = name.split()
    if len(hangul) >= 2 and rng.random() < 0.2:
        return "".join(COMPAT_INITIALS[(ord(name[i]) - SYLLABLES.start) // 588] for i in hangul), "initials"
    if len(words) >= 2 and rng.random() < 0.1 and len(words[-1]) >= 4:
        return words[-1], "last word"
    if hangul:
        i = rng.choice(hangul)
        code = ord(name[i]) - SYLLABLES.start
        initial, vowel, final = code // 588, (code % 588) // 28, code % 28
        part = rng.randrange(3)
        if part == 0:
            initial = (initial + rng.randint(1, 18)) % 19
        elif part == 1:
            vowel = (vowel + rng.randint(1, 20)) % 21
        else:
            final = (final + rng.randint(1, 27)) % 28
        return name[:i] + chr(SYLLABLES.start + initial * 588 + vowel * 28 + final) + name[i + 1 :], "jamo"
    letters = [i for i, ch in enumerate(name) if ch.isalpha()]
    i = rng.choice(letters)
    kind = rng.choice(["substitute", "drop", "add", "swap"])
    if kind == "substitute":
        return name[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + name[i + 1 :], kind
    if kind == "drop":
        return name[:i] + name[i + 1 :], kind
    if kind == "add":
        return name[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + name[i:], kind
    j = min(i + 1, len(name) - 1)
    return name[:i] + name[j] + name[i] + name[j + 1 :], kind


def _tsv(value) -> str:
    if value is None:
        return "\\N"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def fill_mysql(root, database: str, n: int) -> dict[str, list[tuple]]:
    """Create the mart's tables in ``database`` (root connection) and load ``n`` artists; returns the rows."""
    data = rows(n)
    with root.cursor() as cursor:
        cursor.execute(f"USE {database}")
        for table in schema.ALL_TABLES:
            for statement in schema.create_statements("mysql", table):
                cursor.execute(statement)
        with tempfile.TemporaryDirectory(prefix="chatbot-bench-") as folder:
            Path(folder).chmod(0o755)
            for table, values in data.items():
                path = Path(folder) / f"{table}.tsv"
                with path.open("w", encoding="utf-8") as out:
                    out.writelines("\t".join(map(_tsv, row)) + "\n" for row in values)
                path.chmod(0o644)
                columns = ", ".join(f"`{c}`" for c in schema.COLUMNS[table])
                cursor.execute(f"LOAD DATA INFILE '{path}' INTO TABLE {table} CHARACTER SET utf8mb4 ({columns})")
    return data


def fill_sqlite(conn, n: int) -> dict[str, list[tuple]]:
    """Create the mart's tables and write ``n`` artists, in WAL mode as a publish leaves the file."""
    data = rows(n)
    cursor = conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    for table in schema.ALL_TABLES:
        for statement in schema.create_statements("sqlite", table):
            cursor.execute(statement)
    cursor.execute("BEGIN")
    for table, values in data.items():
        marks = ", ".join("?" * len(schema.COLUMNS[table]))
        cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
    cursor.execute("COMMIT")
    cursor.close()
    return data
