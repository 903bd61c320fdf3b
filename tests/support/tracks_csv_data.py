"""Small CSV files in the public tracks-csv layouts, written for the ingest tests."""

from __future__ import annotations

import csv

FEATURES = ["0.5", "0.6", "5", "-7.5", "1", "0.05", "0.1", "0.0", "0.2", "0.7", "120.0"]


def write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


SONGS_1_2M_HEADER = [
    "id",
    "name",
    "album",
    "album_id",
    "artists",
    "artist_ids",
    "track_number",
    "disc_number",
    "explicit",
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
    "year",
    "release_date",
]


def songs_1_2m(tmp_path):
    header = SONGS_1_2M_HEADER
    rows = []
    for n in range(12):  # 12 tracks of artist A (newest first wins), one shared with B
        artists, ids = (
            ("['Artist A', \"B's Band\"]", "['AAAAAAAAAAAAAAAAAAAAAA', 'BBBBBBBBBBBBBBBBBBBBBB']")
            if n == 3
            else ("['Artist A']", "['AAAAAAAAAAAAAAAAAAAAAA']")
        )
        rows.append(
            [
                f"t{n:02d}",
                f"Song, {n}",
                "Album",
                "al",
                artists,
                ids,
                1,
                1,
                "False",
                *FEATURES,
                "200000",
                "4.0",
                2000 + n,
                f"{2000 + n}-01-0{1 + n % 9}",
            ]
        )
    rows.append(
        [
            "t99",
            "Broken",
            "Album",
            "al",
            "not a list",
            "not a list",
            1,
            1,
            "False",
            *FEATURES,
            "200000",
            "4.0",
            2001,
            "2001",
        ]
    )
    return write(tmp_path / "tracks_features.csv", header, rows)
