"""Ingest benchmark: the Spotify source against a rate-limited fake Web API, and the theoretical minimum.

    python -m bench.ingest                       # 10,000 artists, 3,000 requests per 30 s (about 5 minutes)
    python -m bench.ingest --artists 1000 --rate 300

The fake API (tests/support/fake_spotify.py) runs in its own process on 127.0.0.1 and answers 429 with
Retry-After once --rate requests were made in the last --window seconds. The real ingest job
(python jobs/ingest.py --source spotify) fetches the artists (50 per call), their top tracks (one
call each) and audio features (100 per call). Two references: the issue's theoretical minimum,
calls / rate x window (a client paced evenly at the rate), and the earliest any client can finish
against this window, floor((calls - 1) / rate) x window (the first window's calls are allowed at
once, so the last call can go out that soon). A second run without a limit shows the client's own
speed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import child_env
from shared.version import program_parser

REPO = Path(__file__).resolve().parents[1]


def stamp(line: str) -> datetime.datetime:
    """The time a log line was written (its first 23 characters)."""
    return datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


def run_once(args, workdir: Path, rate: int | None, port: int) -> dict:
    ids_file = workdir / "ids.txt"
    server = [
        sys.executable,
        "-m",
        "tests.support.fake_spotify",
        "--artists",
        str(args.artists),
        "--port",
        str(port),
        "--window",
        str(args.window),
        "--ids-file",
        str(ids_file),
    ] + (["--rate", str(rate)] if rate else [])
    fake = subprocess.Popen(server, cwd=REPO, env=child_env(), stdout=subprocess.PIPE, text=True)
    try:
        fake.stdout.readline()  # "fake Spotify at ..." once it listens
        base = f"http://127.0.0.1:{port}"
        env = dict(child_env(), SPOTIPY_CLIENT_ID="bench", SPOTIPY_CLIENT_SECRET="bench")
        command = [
            sys.executable,
            "jobs/ingest.py",
            "--source",
            "spotify",
            "--seeds-file",
            str(ids_file),
            "--lake",
            str(workdir / f"lake-{rate or 'unlimited'}"),
            "--dt",
            "2026-01-01",
            "--set",
            f"spotify.api_url={base}/v1/",
            "--set",
            f"spotify.token_url={base}/api/token",
            "--set",
            f"spotify.max_retry_after={args.window + 5}",
            "--set",
            f"spark.master=local[{args.cores}]",
        ]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - started
    finally:
        fake.terminate()
        fake.wait(10)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit(f"ingest failed with exit status {done.returncode}")
    summary = next(line for line in done.stderr.splitlines() if "Spotify summary" in line)
    begin = next(line for line in done.stderr.splitlines() if "from spotify into" in line)
    api_s = (stamp(summary) - stamp(begin)).total_seconds()
    fetch = next((line for line in done.stderr.splitlines() if "top tracks:" in line and " in " in line), "")
    requests = int(re.search(r"(\d+) requests", summary).group(1))
    waits = int(re.search(r"(\d+) rate-limit waits", summary).group(1))
    figures = {
        "rate": rate,
        "wall_s": round(wall, 1),
        "api_s": round(api_s, 1),
        "requests": requests,
        "rate_limit_waits": waits,
        "summary": summary.split("Spotify summary: ", 1)[1],
        "top_tracks_phase": fetch.split(": ", 1)[-1],
    }
    if rate:
        calls = requests - waits  # the 429 answers are not calls the data needed
        figures["calls"] = calls
        figures["theoretical_min_s"] = round(calls / rate * args.window, 1)
        figures["earliest_s"] = round((calls - 1) // rate * args.window, 1)
    print(json.dumps(figures), flush=True)
    return figures


def main() -> int:
    parser = program_parser(
        "python -m bench.ingest",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--artists", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=3000, help="requests allowed per window")
    parser.add_argument("--window", type=float, default=30.0, help="seconds")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    print(f"# ingest benchmark: {args.artists:,} artists, {args.rate} requests per {args.window:g} s", flush=True)
    limited = run_once(args, workdir, args.rate, args.port)
    free = run_once(args, workdir, None, args.port)
    print("\n# summary")
    print(
        f"rate-limited ({args.rate} per {args.window:g} s): {limited['wall_s']:.1f} s wall for {limited['calls']:,} "
        f"calls ({limited['rate_limit_waits']} waits on 429); theoretical minimum {limited['theoretical_min_s']:.1f} s"
    )
    print(
        f"  API phase (token to last answer): {limited['api_s']:.1f} s, ratio to the minimum "
        f"{limited['api_s'] / limited['theoretical_min_s']:.2f}; whole job incl. Spark start-up and lake writes: "
        f"{limited['wall_s'] / limited['theoretical_min_s']:.2f}"
    )
    if limited["earliest_s"]:
        print(
            f"  earliest any client can finish against this window: {limited['earliest_s']:.1f} s; "
            f"API phase ratio to it {limited['api_s'] / limited['earliest_s']:.2f}"
        )
    print(
        f"without a limit: API phase {free['api_s']:.1f} s for {free['requests']:,} requests "
        f"({free['requests'] / max(free['api_s'], 0.1):,.0f} requests/s), {free['wall_s']:.1f} s wall"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"limited": limited, "unlimited": free}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
