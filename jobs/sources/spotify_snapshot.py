"""One Spotify ingest's lake rows: names resolved to artists, then the artists, their top tracks and the
tracks' audio features fetched through a ``SpotifyCatalog`` (``jobs.sources.spotify``) and shaped as rows."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from jobs.sources.spotify import ProgressFactory, SpotifyCatalog

FEATURE_FIELDS = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
    "time_signature",
)
_INT_FEATURES = {"key", "mode", "duration_ms", "time_signature"}


# -- Spotify JSON -> lake rows ----------------------------------------------------------------------------


def artist_row(artist: Mapping) -> tuple:
    images = artist.get("images") or []
    followers = (artist.get("followers") or {}).get("total")
    return (
        artist["id"],
        artist.get("name"),
        list(artist.get("genres") or []),
        artist.get("popularity"),
        followers,
        images[0].get("url") if images else None,
        (artist.get("external_urls") or {}).get("spotify"),
        "spotify",
    )


def top_track_rows(artist_id: str, tracks: Iterable[Mapping], source: str = "spotify") -> list[tuple]:
    rows, seen = [], set()
    for track in tracks:
        if track.get("id") in seen or not track.get("id"):
            continue
        seen.add(track["id"])
        album = track.get("album") or {}
        images = album.get("images") or []
        rows.append(
            (
                artist_id,
                track["id"],
                len(rows) + 1,
                track.get("name"),
                album.get("name"),
                images[0].get("url") if images else None,
                track.get("popularity"),
                track.get("duration_ms"),
                (track.get("external_urls") or {}).get("spotify"),
                source,
                release_date(album),
            )
        )
    return rows


def release_date(album: Mapping) -> datetime.date | None:
    """An album's ``release_date`` (``2019``, ``2019-06`` or ``2019-06-14``, whatever its precision) as a date."""
    text = str(album.get("release_date") or "").strip()
    parts = text.split("-")
    try:
        numbers = [int(p) for p in parts[:3]] + [1] * (3 - min(len(parts), 3))
        return datetime.date(*numbers[:3]) if text else None
    except ValueError:
        return None


def feature_row(features: Mapping) -> tuple:
    values = []
    for name in FEATURE_FIELDS:
        value = features.get(name)
        if value is not None:
            value = int(value) if name in _INT_FEATURES else float(value)
        values.append(value)
    return (features["id"], *values, features.get("source", "spotify"))


# -- one snapshot ------------------------------------------------------------------------------------------


@dataclass
class SpotifySnapshot:
    """Lake rows of one ingest, and what could not be had."""

    artists: list[tuple] = field(default_factory=list)
    top_tracks: list[tuple] = field(default_factory=list)
    audio_features: list[tuple] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)


def resolve_names(
    catalog: SpotifyCatalog, names: Iterable[str], progress_factory: ProgressFactory | None = None
) -> tuple[list[str], list[str]]:
    """Artist ids for typed names (search, market KR by default); returns ``(ids, names not found)``.

    A name is found only when a search hit is close to it (``SpotifyCatalog.search_artist``). When
    ``names`` maps each name to its origin, a name typed by chat users (origin ``request``, untrusted)
    is never taken for a hit in another script: only a user's confirmation in the chat makes such a
    name an alias of that artist (it then arrives with the artist's id).
    """
    origins = dict(names) if isinstance(names, Mapping) else {}
    names = list(names)
    ids, missing = [], []
    with (progress_factory or catalog.progress)("names", len(names)) as bar:
        for name in names:
            artist = catalog.search_artist(name, other_script=origins.get(name) != "request")
            if artist is None:
                missing.append(name)
            else:
                ids.append(artist["id"])
            bar.advance()
    return ids, missing


def fetch_snapshot(catalog: SpotifyCatalog, ids: Sequence[str], progress_factory) -> SpotifySnapshot:
    """Artists, their top tracks and the tracks' audio features for ``ids`` (duplicates ignored)."""
    snapshot = SpotifySnapshot()
    ids = list(dict.fromkeys(ids))
    artists = catalog.artists(ids, progress_factory)
    snapshot.artists = [artist_row(a) for a in artists]
    with progress_factory("top tracks", len(artists)) as progress:
        for artist in artists:
            snapshot.top_tracks.extend(top_track_rows(artist["id"], catalog.top_tracks(artist)))
            progress.advance()
    track_ids = list(dict.fromkeys(row[1] for row in snapshot.top_tracks))
    snapshot.audio_features = [feature_row(f) for f in catalog.audio_features(track_ids, progress_factory)]
    snapshot.top_tracks = with_track_audio(snapshot.top_tracks, snapshot.audio_features)
    return snapshot


def with_track_audio(top_tracks: Iterable[tuple], audio_features: Iterable[tuple]) -> list[tuple]:
    """Each top-track row with its track's features appended (``schemas.TOP_TRACKS_WITH_AUDIO``): the
    first feature row of its track, or a struct of nulls; a second row of one (artist, track) is dropped."""
    features = {}
    for row in audio_features:
        features.setdefault(row[0], tuple(row[1:-1]))
    empty = (None,) * len(FEATURE_FIELDS)
    rows, seen = [], set()
    for row in top_tracks:
        if (row[0], row[1]) not in seen:
            seen.add((row[0], row[1]))
            rows.append((*row, features.get(row[1], empty)))
    return rows
