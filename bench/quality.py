"""Quality benchmark: genre precision of the default setting against the seed's, on real data with genres.

    python -m bench.quality --tidy spotify_songs.csv [--workdir DIR] [--k 3]
    python -m bench.quality --tracks tracks.csv --artists-csv artists.csv     # the 600k layout
    python -m bench.quality --tidy spotify_songs.csv --featured               # collaborations, see below
    python -m bench.quality --artist-table data_w_genres.csv --also fast      # one row per artist, see below

Ingests the file with jobs/ingest.py (tracks-csv), then runs jobs/evaluate.py on that snapshot with
``--compare config,seed --fit``: both settings computed in the same run from the same lake, and the
weights fitted on one half of the artists with genres, the other half scored apart. Prints the
comparison table, the ratio default / seed of genre precision@k, and the fit's two halves. The files
are not part of the repository: the README names where the figures' copy came from.

``--featured`` measures how co-credited tracks should count. The TidyTuesday file credits one artist
per row, but its titles name the others ("Song (feat. X & Y)", "(with X)"): the file is rewritten in
the 600k layout (tracks.csv + artists.csv with the playlist genres) crediting them too, then the
default is compared with ``shared_tracks=split``, and the report gives the share of co-credited pairs.

``--artist-table`` reads a table of one row per artist (``data_w_genres.csv`` of the public "Spotify
Dataset 1921-2020, 160k+ Tracks": artists, genres, the means of the audio features, duration_ms,
popularity, count): each artist becomes ``min(count, 10)`` identical tracks carrying its means, in
the 600k layout, so the job's means, track popularity, duration and track count are the table's.
The table has no release dates. ``--also`` adds settings to the comparison (presets, key=value).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import child_env
from jobs.settings import DEFAULT_K
from shared.version import program_parser

REPO = Path(__file__).resolve().parents[1]
DT = "2026-01-01"


def run(command: list[str]) -> float:
    print("$ " + " ".join(command), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=child_env())
    if done.returncode:
        raise SystemExit(f"{command[1]} failed with exit status {done.returncode}")
    return time.perf_counter() - started


FEATURED = re.compile(
    r"[(\[]\s*(?:feat\.?|ft\.?|featuring|with)\s+([^)\]]+)[)\]]|\s-?\s*(?:feat\.?|ft\.?)\s+(.+)$", re.IGNORECASE
)


def featured_names(title: str) -> list[str]:
    """Artists a title credits besides the main one: '(feat. A, B & C)', '(with A)', '- feat. A'."""
    names = []
    for group in FEATURED.findall(title or ""):
        text = group[0] or group[1]
        names += [n.strip() for n in re.split(r",|&| and | x ", text) if n.strip()]
    return names


AUDIO_600K = [
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
]


def artist_id(name: str) -> str:
    """The artist id tracks-csv ingest derives from a name where a file has none."""
    import hashlib

    return hashlib.sha256(name.strip().lower().encode()).hexdigest()[:22]


def write_600k(out: Path, tracks, artists) -> tuple[Path, Path]:
    """``out/tracks.csv`` and ``out/artists.csv`` in the 600k layout from rows in their column order."""
    out.mkdir(parents=True, exist_ok=True)
    tracks_path, artists_path = out / "tracks.csv", out / "artists.csv"
    with open(tracks_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "id",
                "name",
                "popularity",
                "duration_ms",
                "explicit",
                "artists",
                "id_artists",
                "release_date",
                *AUDIO_600K,
                "time_signature",
            ]
        )
        w.writerows(tracks)
    with open(artists_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "followers", "genres", "name", "popularity"])
        w.writerows(artists)
    return tracks_path, artists_path


def tidy_to_600k(tidy: Path, out: Path) -> tuple[Path, Path, dict]:
    """The TidyTuesday rows as the 600k layout, featured artists credited; ids derived from names as ingest does."""
    genres, names, tracks = {}, {}, {}
    with open(tidy, newline="", encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            main = (row.get("track_artist") or "").strip()
            if not main or not row.get("track_id"):
                continue
            credited = [main] + [n for n in featured_names(row.get("track_name", "")) if n.lower() != main.lower()]
            ids = list(dict.fromkeys(artist_id(n) for n in credited))
            for n in credited:
                names.setdefault(artist_id(n), n)
            genres.setdefault(artist_id(main), set()).update(
                g.strip().lower() for g in (row.get("playlist_genre"), row.get("playlist_subgenre")) if g
            )
            tracks.setdefault(row["track_id"], (row, credited, ids))
    tracks_path, artists_path = write_600k(
        out,
        (
            [
                track_id,
                row["track_name"],
                row["track_popularity"],
                row["duration_ms"],
                "0",
                repr(credited),
                repr(ids),
                row["track_album_release_date"],
                *[row[x] for x in AUDIO_600K],
                "4",
            ]
            for track_id, (row, credited, ids) in tracks.items()
        ),
        ([aid, "", repr(sorted(genres.get(aid, ()))), name, ""] for aid, name in names.items()),
    )
    shared = sum(1 for _, credited, _ in tracks.values() if len(credited) > 1)
    return (
        tracks_path,
        artists_path,
        {
            "tracks": len(tracks),
            "co_credited_tracks": shared,
            "artists": len(names),
            "artists_with_genres": len(genres),
        },
    )


def artist_genres(cell: str) -> list[str]:
    """Genres of a data_w_genres.csv cell: "[]", "['a', 'b']" or "a, b"."""
    import ast

    cell = (cell or "").strip()
    if cell.startswith("["):
        try:
            return [str(g).strip() for g in ast.literal_eval(cell) if str(g).strip()]
        except (ValueError, SyntaxError):
            return []
    return [g.strip() for g in cell.split(",") if g.strip()]


def artist_table_to_600k(table: Path, out: Path, max_tracks: int = 10) -> tuple[Path, Path, dict]:
    """A one-row-per-artist table as the 600k layout: min(count, max_tracks) tracks per artist with its means."""
    tracks, artists = [], []
    with open(table, newline="", encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            name = (row.get("artists") or "").strip()
            if not name:
                continue
            aid = artist_id(name)
            artists.append([aid, "", repr(artist_genres(row.get("genres", ""))), name, ""])
            copies = max(1, min(int(float(row.get("count") or 1)), max_tracks))
            tracks += [
                [
                    f"{aid}{i:02d}",
                    f"{name} {i + 1}",
                    row["popularity"],
                    row["duration_ms"],
                    "0",
                    repr([name]),
                    repr([aid]),
                    "",
                    *[row[x] for x in AUDIO_600K],
                    "4",
                ]
                for i in range(copies)
            ]
    tracks_path, artists_path = write_600k(out, tracks, artists)
    return (
        tracks_path,
        artists_path,
        {"artists": len(artists), "artists_with_genres": sum(a[2] != "[]" for a in artists), "tracks": len(tracks)},
    )


def main() -> int:
    parser = program_parser(
        "python -m bench.quality",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--tidy", help="a TidyTuesday spotify_songs.csv")
    parser.add_argument("--tracks", help="a 600k-layout tracks.csv (with --artists-csv)")
    parser.add_argument("--artists-csv")
    parser.add_argument(
        "--featured",
        action="store_true",
        help="with --tidy: credit the artists titles name and compare shared_tracks full and split",
    )
    parser.add_argument("--artist-table", help="one row per artist with genres and means (data_w_genres.csv)")
    parser.add_argument("--also", default="", help="more settings to compare, e.g. fast or 'normalization=rank'")
    parser.add_argument("--k", type=int, default=DEFAULT_K)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", help="lake and report (default: a temporary folder)")
    args = parser.parse_args()
    if not (args.tidy or args.tracks or args.artist_table):
        parser.error("give --tidy FILE, --tracks FILE --artists-csv FILE, or --artist-table FILE")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="quality-bench-"))
    lake, report = work / "lake", work / "report"
    spark = ["--set", f"spark.master=local[{args.cores}]"]
    source = ["--tracks", args.tidy] if args.tidy else ["--tracks", args.tracks, "--artists-csv", args.artists_csv]
    compare = ["--compare", "config,seed", "--fit"]  # the first setting is the one fitted and mapped
    if args.also:
        compare += ["--compare", args.also]
    if args.artist_table:
        tracks, artists, counts = artist_table_to_600k(Path(args.artist_table), work / "artist_table")
        print(f"artist table as tracks: {counts}", flush=True)
        source = ["--tracks", str(tracks), "--artists-csv", str(artists)]
    if args.featured:
        tracks, artists, counts = tidy_to_600k(Path(args.tidy), work / "featured")
        print(f"featured artists credited: {counts}", flush=True)
        source = ["--tracks", str(tracks), "--artists-csv", str(artists)]
        compare = ["--compare", "seed,config", "--compare", "shared_tracks=split"]
    ingest_s = run(
        [sys.executable, "jobs/ingest.py", "--source", "tracks-csv", *source, "--lake", str(lake), "--dt", DT, *spark]
    )
    evaluate_s = run(
        [
            sys.executable,
            "jobs/evaluate.py",
            "--lake",
            str(lake),
            "--dt",
            DT,
            "--k",
            str(args.k),
            *compare,
            "--report",
            str(report),
            *spark,
        ]
    )
    saved = json.loads((report / "report.json").read_text())
    rows = {row["setting"]: row for row in saved["comparison"]}
    seed, default = rows["seed"], rows["config"]
    fit = saved["fit"]
    if args.featured:
        split = rows["shared_tracks=split"]
        print("\n# summary (co-credited tracks)")
        for name, row in (("seed", seed), ("default, shared tracks full", default), ("default, split", split)):
            print(
                f"{name}: genre precision@{args.k} {row['genre_precision']:.3f}, co-credited pairs "
                f"{row['co_credited']:.3f}, coverage {row['coverage']:.3f}, in-degree max {row['in_degree_max']}"
            )
        return 0
    print("\n# summary")
    print(
        f"genre precision@{args.k} on {saved['context']['artists with genres']:,} artists with genres: "
        f"default {default['genre_precision']:.3f} vs seed {seed['genre_precision']:.3f} -> "
        f"{default['genre_precision'] / seed['genre_precision']:.2f}x (target >= 1.8x); random "
        f"{seed['random_precision']:.3f}, genre-popularity {seed['genre_popularity_precision']:.3f}; above random: "
        f"{(default['genre_precision'] - seed['random_precision']) / (seed['genre_precision'] - seed['random_precision']):.2f}x"
    )
    print(
        f"--fit (seed {fit['seed']}) on the default's features: fitted half {fit['fitted']:.3f} "
        f"({fit['fitted_artists']} artists; all weights 1: {fit['base_fitted']:.3f}), held-out half "
        f"{fit['held_out']:.3f} ({fit['held_out_artists']} artists; all weights 1: {fit['base_held_out']:.3f}); "
        f"weights {fit['weights']}"
    )
    for name in [n for n in rows if n not in ("config", "seed")]:
        print(
            f"{name}: genre precision@{args.k} {rows[name]['genre_precision']:.3f} -> "
            f"{rows[name]['genre_precision'] / seed['genre_precision']:.2f}x the seed; coverage "
            f"{rows[name]['coverage']:.3f}, in-degree max {rows[name]['in_degree_max']}"
        )
    print(
        f"coverage default {default['coverage']:.3f} vs seed {seed['coverage']:.3f}; in-degree max "
        f"{default['in_degree_max']} vs {seed['in_degree_max']}; ingest {ingest_s:.0f} s, evaluate {evaluate_s:.0f} s; "
        f"report {report / 'report.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
