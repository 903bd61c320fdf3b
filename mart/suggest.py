"""Suggestion candidates: the mart names near a typed key, found through the mart's indexes.

A typo leaves either a long beginning or a long ending of the name intact (one edit at position p
keeps the p letters before it and the letters after it). So the names a typo is close to sort near
the typed key, either by key (``name_key``) or by the key written backwards (``rev_key``): the
candidates are the few keys just before and just after the typed key in both orders, in artists and
in aliases, plus, for a key typed as initial consonants (초성), the keys whose ``initials`` start
with it. Each is a short index range scan (``NEIGHBOURS`` rows), whatever the size of the mart, and
all of them are one statement, so a reader sees one consistent set during a publish's swap.
The ranking of the candidates is the chatbot's (``chatbot_lambda.matching``).
"""

from __future__ import annotations

from dataclasses import dataclass

from mart.serving import fetch_all
from shared.hangul import only_initials
from shared.names import rev_key

NEIGHBOURS = 12

_ARTISTS = (
    "SELECT artist_id, name, {col_key} AS k, popularity, initials, '{probe}' AS probe FROM artists "
    "WHERE {col} {op} ? ORDER BY {col} {order} LIMIT ?"
)
_ALIASES = (
    "SELECT l.artist_id, a.name, l.alias_key AS k, a.popularity, l.initials, '{probe}' AS probe "
    "FROM artist_aliases l JOIN artists a ON a.artist_id = l.artist_id "
    "WHERE l.{col} {op} ? ORDER BY l.{col} {order} LIMIT ?"
)

# (probe, column, comparison, order): the neighbours after and before the typed key in each order.
_PROBES = (
    ("p+", "name_key", ">=", "ASC"),
    ("p-", "name_key", "<", "DESC"),
    ("s+", "rev_key", ">=", "ASC"),
    ("s-", "rev_key", "<", "DESC"),
)


@dataclass(frozen=True)
class Candidate:
    artist_id: str
    name: str
    key: str  # the artist's name key, or the alias key that was found
    popularity: int
    initials: str | None
    probe: str  # p+ / p- (by key), s+ / s- (by key backwards), i (initials)


def suggestion_sql(with_initials: bool) -> str:
    """The one statement that fetches the candidates (parameters: see :func:`candidates`)."""
    parts = []
    for template, key_col in ((_ARTISTS, "name_key"), (_ALIASES, "alias_key")):
        probes = list(_PROBES) + ([("i", "initials", ">=", "ASC")] if with_initials else [])
        for probe, col, op, order in probes:
            col = key_col if col == "name_key" else col
            parts.append(template.format(col_key=key_col, probe=probe, col=col, op=op, order=order))
    return "\nUNION ALL\n".join(f"SELECT * FROM ({part}) p{i}" for i, part in enumerate(parts))


def candidates(conn, key: str, neighbours: int = NEIGHBOURS) -> list[Candidate]:
    """The artists (and aliases) whose keys sort next to ``key`` (a name key), by key and backwards."""
    if not key:
        return []
    with_initials = only_initials(key)
    values: list = []
    for _ in range(2):  # artists, then aliases
        for _probe, col, _op, _order in _PROBES:
            values += [key if col == "name_key" else rev_key(key), int(neighbours)]
        if with_initials:
            values += [key, int(neighbours)]
    rows = fetch_all(conn, suggestion_sql(with_initials), values)
    return [
        Candidate(str(artist_id), str(name), str(k), int(popularity or 0), str(ini) if ini else None, str(probe))
        for artist_id, name, k, popularity, ini, probe in rows
    ]
