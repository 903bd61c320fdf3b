"""A demo-like mart from the synthetic source, written without Spark, and the skill server over it.

``make demo`` publishes the synthetic source's artists (a few with Hangul names and their romanizations as
aliases), their top tracks and their related artists. This writes the same kind of mart from the source's
own chunks (``jobs.sources.synthetic``: plain Arrow, no JVM), with the keys the publish writes
(``tests.support.chatbot_mart.artist_row``, ``alias_row``). Related artists are the nearest by the mean
of a few audio features (the sound, as the similarity job's default finds them, only simpler): the tests
read what is answered, not why.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from jobs.sources.synthetic import SyntheticSpec, aliases_chunk, artists_chunk, audio_features_chunk, top_tracks_chunk
from mart import schema, serving
from shared.names import initials, name_key
from tests.support.chatbot_mart import alias_row, artist_row, create_tables
from tests.support.paths import REPO

SPEC = SyntheticSpec(artists=150, seed=7, contexts=0)
TRACKS = 3
RELATED = 3
FEATURES = ("danceability", "energy", "acousticness", "valence")


@dataclass(frozen=True)
class HangulArtist:
    """An artist of the mart with a Hangul name, its romanization (an alias) and its tracks as published."""

    artist_id: str
    name: str
    romanized: str
    tracks: list[str]

    @property
    def initials(self) -> str:
        """Its 초성 as a user types them (compatibility jamo, ㅎㄴㅅㄹ)."""
        conjoining = initials(name_key(self.name)) or ""
        return "".join(_COMPATIBILITY[ch] for ch in conjoining)


# Conjoining initial consonants (what keys hold) -> the compatibility jamo a keyboard types.
_COMPATIBILITY = dict(zip((chr(c) for c in range(0x1100, 0x1113)), "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"))


def rows(spec: SyntheticSpec = SPEC) -> dict[str, list[tuple]]:
    """The mart's serving tables for ``spec`` (one chunk), as rows in ``mart.schema.COLUMNS`` order."""
    artists = artists_chunk(spec, 0).to_pandas()
    tracks = top_tracks_chunk(spec, 0).to_pandas()
    features = audio_features_chunk(spec, 0).to_pandas()
    aliases = aliases_chunk(spec, 0).to_pandas()
    popularity = dict(zip(artists.artist_id, artists.popularity))
    artist_rows = [
        artist_row(a.artist_id, a.name, a.image_url, a.spotify_url, json.dumps(list(a.genres)), int(a.popularity))
        for a in artists.itertuples()
    ]
    best = tracks[tracks["rank"] <= TRACKS]
    track_rows = [
        (t.artist_id, int(t.rank), t.track_id, t.name, t.album_name, t.album_image_url) for t in best.itertuples()
    ]
    alias_rows: dict[str, tuple] = {}
    for a in sorted(aliases.itertuples(), key=lambda a: (-popularity[a.artist_id], a.artist_id)):
        alias_rows.setdefault(name_key(a.alias), alias_row(a.alias, a.artist_id))  # the most popular owns a key
    sound = tracks.merge(features, on="track_id").groupby("artist_id")[list(FEATURES)].mean()
    values = sound.to_numpy()
    distances = np.linalg.norm(values[:, None, :] - values[None, :, :], axis=-1)
    np.fill_diagonal(distances, np.inf)
    related_rows = []
    for i, artist_id in enumerate(sound.index):
        nearest = np.argsort(distances[i], kind="stable")[:RELATED]
        related_rows += [
            (artist_id, rank, sound.index[j], float(distances[i, j]), "sound") for rank, j in enumerate(nearest, 1)
        ]
    return {
        "artists": artist_rows,
        "artist_aliases": list(alias_rows.values()),
        "top_tracks": track_rows,
        "related_artists": related_rows,
    }


def fill(conn, dialect: str, spec: SyntheticSpec = SPEC) -> None:
    """Create the mart's tables and write ``rows(spec)`` (the connection is in autocommit mode)."""
    create_tables(conn, dialect)
    mark = "?" if dialect == "sqlite" else "%s"
    cursor = conn.cursor()
    for table, values in rows(spec).items():
        columns = schema.COLUMNS[table]
        quoted = ", ".join(f"`{c}`" for c in columns)
        cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({', '.join([mark] * len(columns))})", values)
    if dialect == "sqlite":
        conn.commit()
    cursor.close()


def hangul_artists(spec: SyntheticSpec = SPEC) -> list[HangulArtist]:
    """The Hangul-named artists a query answers unambiguously, most popular first: a name, initials and a
    romanization no other artist of the mart has."""
    tables = rows(spec)
    names = {row[0]: row[1] for row in tables["artists"]}
    popularity = {row[0]: row[6] for row in tables["artists"]}
    keys = [name_key(name) for name in names.values()]
    all_initials = [initials(key) for key in keys]
    romanized = {row["artist_id"]: row["alias"] for row in aliases_chunk(spec, 0).to_pylist()}
    tracks: dict[str, list[str]] = {}
    for artist_id, _rank, _track, title, _album, _image in sorted(tables["top_tracks"], key=lambda t: (t[0], t[1])):
        tracks.setdefault(artist_id, []).append(title)
    found = []
    for artist_id, alias in romanized.items():
        key = name_key(names[artist_id])
        if (
            keys.count(key) == 1
            and all_initials.count(initials(key)) == 1
            and list(romanized.values()).count(alias) == 1
        ):
            found.append(HangulArtist(artist_id, names[artist_id], alias, tracks.get(artist_id, [])))
    return sorted(found, key=lambda a: (-popularity[a.artist_id], a.artist_id))


@contextlib.contextmanager
def skill_server(tmp_path, spec: SyntheticSpec = SPEC) -> Iterator[str]:
    """``python -m chatbot_lambda.serve`` on a free port over this mart (SQLite, in ``tmp_path``), as
    ``make serve`` runs it over the demo's; yields its base URL."""
    path = tmp_path / "synthetic_mart.db"
    conn = serving.connect(f"jdbc:sqlite:{path}")
    fill(conn, "sqlite", spec)
    conn.close()
    process = subprocess.Popen(
        [sys.executable, "-m", "chatbot_lambda.serve", "--port", "0", "--mart", f"jdbc:sqlite:{path}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("skill server on http://127.0.0.1:"), line + process.stderr.read()
        yield line.split()[3].rsplit("/", 1)[0]
    finally:
        process.terminate()
        process.wait(10)
