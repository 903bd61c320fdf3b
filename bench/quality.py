"""Quality benchmark: genre precision of the default setting against the seed's, on real data with genres.

    python bench/quality.py --tidy spotify_songs.csv [--workdir DIR] [--k 3]
    python bench/quality.py --tracks tracks.csv --artists-csv artists.csv     # the 600k layout

Ingests the file with jobs/ingest.py (tracks-csv), then runs jobs/evaluate.py on that snapshot with
``--compare seed,config --fit``: both settings computed in the same run from the same lake, and the
weights fitted on one half of the artists with genres, the other half scored apart. Prints the
comparison table, the ratio default / seed of genre precision@k, and the fit's two halves. The files
are not part of the repository: the README names where the figures' copy came from.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import child_env  # noqa: E402
DT = "2026-01-01"


def run(command: list[str]) -> float:
    print("$ " + " ".join(command), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=child_env())
    if done.returncode:
        raise SystemExit(f"{command[1]} failed with exit status {done.returncode}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--tidy", help="a TidyTuesday spotify_songs.csv")
    parser.add_argument("--tracks", help="a 600k-layout tracks.csv (with --artists-csv)")
    parser.add_argument("--artists-csv")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", help="lake and report (default: a temporary folder)")
    args = parser.parse_args()
    if not (args.tidy or args.tracks):
        parser.error("give --tidy FILE or --tracks FILE --artists-csv FILE")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="quality-bench-"))
    lake, report = work / "lake", work / "report"
    spark = ["--set", f"spark.master=local[{args.cores}]"]
    source = ["--tracks", args.tidy] if args.tidy else ["--tracks", args.tracks, "--artists-csv", args.artists_csv]
    ingest_s = run([sys.executable, "jobs/ingest.py", "--source", "tracks-csv", *source, "--lake", str(lake),
                    "--dt", DT, *spark])
    evaluate_s = run([sys.executable, "jobs/evaluate.py", "--lake", str(lake), "--dt", DT, "--k", str(args.k),
                      "--compare", "seed,config", "--fit", "--report", str(report), *spark])
    saved = json.loads((report / "report.json").read_text())
    rows = {row["setting"]: row for row in saved["comparison"]}
    seed, default = rows["seed"], rows["config"]
    fit = saved["fit"]
    print("\n# summary")
    print(f"genre precision@{args.k} on {saved['context']['artists with genres']:,} artists with genres: "
          f"default {default['genre_precision']:.3f} vs seed {seed['genre_precision']:.3f} -> "
          f"{default['genre_precision'] / seed['genre_precision']:.2f}x (target >= 1.8x); random "
          f"{seed['random_precision']:.3f}, genre-popularity {seed['genre_popularity_precision']:.3f}; above random: "
          f"{(default['genre_precision'] - seed['random_precision']) / (seed['genre_precision'] - seed['random_precision']):.2f}x")
    print(f"--fit (seed {fit['seed']}) on the default's features: fitted half {fit['fitted']:.3f} "
          f"({fit['fitted_artists']} artists; all weights 1: {fit['base_fitted']:.3f}), held-out half "
          f"{fit['held_out']:.3f} ({fit['held_out_artists']} artists; all weights 1: {fit['base_held_out']:.3f}); "
          f"weights {fit['weights']}")
    print(f"coverage default {default['coverage']:.3f} vs seed {seed['coverage']:.3f}; in-degree max "
          f"{default['in_degree_max']} vs {seed['in_degree_max']}; ingest {ingest_s:.0f} s, evaluate {evaluate_s:.0f} s; "
          f"report {report / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
