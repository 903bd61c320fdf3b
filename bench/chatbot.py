"""Chatbot benchmark: answer latency in a warm Lambda, cold start, and the deployment zip's size.

    python bench/chatbot.py                     # 100,000 artists in MariaDB, 5,000 warm answers
    python bench/chatbot.py --artists 10000 --requests 1000

Uses the private MariaDB of scripts/mariadb.sh (started if needed): a fresh database and a user with
a random password for this run, filled with generated artists (3 top tracks and 3 related artists
each, as tests/chatbot_mart.py writes them), dropped at the end. Figures, all from this run:

  warm       the handler (API Gateway event in, HTTP response out) answering known artists by name
             or alias through one reused connection: p50 / p90 / p99 / max per answer. Reference:
             the mart lookup alone (the one SQL statement, through the same driver), so the ratio
             shows what the handler adds to the database round trip. Also the not-found path
             (fuzzy suggestions) for comparison.
  cold       a fresh interpreter with only the built zip and the standard library on its path, as
             on Lambda: importing the handler, then the first answer (settings, first connection,
             first query). Median of --cold-runs.
  zip        the size of the deployment zip scripts/lambda/build_zip.py builds.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import chatbot_mart  # noqa: E402  (after the path is set)
from tests.skill_calls import http_api_event, skill_body  # noqa: E402

SOCKET = REPO / ".cache" / "mariadb" / "mysqld.sock"

COLD_PROBE = """if True:
    import json, os, sys, time
    started = time.perf_counter()
    sys.path[:0] = [sys.argv[1]]
    from chatbot_lambda import handler
    imported = time.perf_counter()
    event = {"version": "2.0", "rawPath": "/skill", "requestContext": {"http": {"method": "POST"}},
             "headers": {}, "body": sys.argv[2]}
    response = handler.lambda_handler(event, None)
    answered = time.perf_counter()
    assert response["statusCode"] == 200 and "carousel" in response["body"], response
    print(json.dumps({"imports_ms": (imported - started) * 1000, "first_answer_ms": (answered - imported) * 1000,
                      "boto3_loaded": "boto3" in sys.modules, "pymysql": sys.modules["pymysql"].__file__}))
"""


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return {"n": len(ordered), "p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99), "max_ms": ordered[-1]}


def show(label: str, figures: dict) -> None:
    print(f"{label:<34} p50 {figures['p50_ms']:7.2f} ms   p90 {figures['p90_ms']:7.2f} ms   "
          f"p99 {figures['p99_ms']:7.2f} ms   max {figures['max_ms']:7.2f} ms   (n={figures['n']:,})", flush=True)


def fresh_database(port: int, n: int) -> tuple[dict, object, str]:
    import pymysql

    root = pymysql.connect(unix_socket=str(SOCKET), user="root", autocommit=True)
    database, user, password = f"chatbot_bench_{secrets.token_hex(3)}", "chatbot_bench", secrets.token_hex(16)
    with root.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
        cursor.execute("CREATE OR REPLACE USER %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, CREATE ON {database}.* TO %s@'127.0.0.1'", (user,))
    started = time.perf_counter()
    filler = pymysql.connect(unix_socket=str(SOCKET), user="root", database=database, autocommit=True,
                             charset="utf8mb4")
    chatbot_mart.fill(filler, "mysql", n)
    filler.close()
    print(f"# filled {database} with {n:,} artists (3 top tracks, 3 related each) in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    env = {"MART_URL": f"jdbc:mysql://127.0.0.1:{port}/{database}", "MART_USER": user, "MART_PASSWORD": password}
    return env, root, database


def warm(env: dict, n: int, requests: int) -> dict:
    from chatbot_lambda.app import SkillApp
    from chatbot_lambda.settings import Settings
    from mart import serving

    logging.getLogger("chatbot_lambda").setLevel(logging.ERROR)      # one log line per answer otherwise
    app = SkillApp(Settings.from_env(env))
    rng = random.Random(7)
    names = [rng.choice([f"Artist {i}", f"artist {i}", f"ARTIST{i}"]) for i in (rng.randrange(n) for _ in
                                                                               range(requests))]
    names[::10] = [rng.choice(["블랙핑크", "레드벨벳", "BLACKPINK", "아이유"]) for _ in names[::10]]
    events = [http_api_event(skill_body(name)) for name in names]
    for event in events[:50]:                                # warm-up: connection, caches
        app.handle(event)
    handler_ms = []
    for event in events:
        started = time.perf_counter()
        response = app.handle(event)
        handler_ms.append((time.perf_counter() - started) * 1000)
        assert response["statusCode"] == 200 and '"carousel"' in response["body"], response["body"][:300]
    conn = app.repository._conn
    lookup_ms = []
    for name in names:
        started = time.perf_counter()
        serving.find_artist(conn, name, 3)
        lookup_ms.append((time.perf_counter() - started) * 1000)
    meant = [rng.randrange(n) for _ in range(max(requests // 20, 50))]
    miss_ms, first_right = [], 0
    for i in meant:
        started = time.perf_counter()
        response = app.handle(http_api_event(skill_body(f"Artst {i}x")))     # a typo and a stray key
        miss_ms.append((time.perf_counter() - started) * 1000)
        quick = json.loads(response["body"])["template"].get("quickReplies", [])
        first_right += bool(quick) and quick[0]["messageText"] == f"Artist {i}"
    figures = {"handler": percentiles(handler_ms), "lookup_reference": percentiles(lookup_ms),
               "not_found": percentiles(miss_ms), "suggestion_first_right": first_right / len(meant),
               "connections_opened": app.repository.connections_opened}
    app.repository.close()
    return figures


def build_zip(out: Path) -> float:
    done = subprocess.run([sys.executable, "scripts/lambda/build_zip.py", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, check=True)
    print(f"# {done.stdout.strip()}", flush=True)
    return out.stat().st_size / 2**20


def cold(env: dict, zip_path: Path, runs: int) -> dict:
    samples = []
    body = skill_body("BLACKPINK")
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-I", "-S", "-c", COLD_PROBE, str(zip_path), body],
                              env={**env, "LOG_LEVEL": "WARNING"}, capture_output=True, text=True, check=True)
        total = (time.perf_counter() - started) * 1000
        sample = json.loads(done.stdout.strip().splitlines()[-1])
        assert sample["pymysql"].startswith(str(zip_path)), sample
        samples.append({**sample, "process_ms": total})
    median = {key: statistics.median(s[key] for s in samples)
              for key in ("imports_ms", "first_answer_ms", "process_ms")}
    median["cold_start_ms"] = median["imports_ms"] + median["first_answer_ms"]
    median["boto3_loaded"] = any(s["boto3_loaded"] for s in samples)
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artists", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=5000, help="warm answers to time (default 5,000)")
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--port", type=int, default=3307, help="port of the private MariaDB")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    subprocess.run(["scripts/mariadb.sh", "start"], cwd=REPO, check=True)
    env, root, database = fresh_database(args.port, args.artists)
    figures: dict = {"artists": args.artists}
    try:
        figures["warm"] = w = warm(env, args.artists, args.requests)
        show("handler, known artist (warm)", w["handler"])
        show("reference: the lookup SQL alone", w["lookup_reference"])
        show("handler, not found (suggestions)", w["not_found"])
        print(f"  'Artst Nx' typed: 'Artist N' is the first suggestion in {w['suggestion_first_right']:.0%}",
              flush=True)
        print(f"handler / lookup at p50: {w['handler']['p50_ms'] / w['lookup_reference']['p50_ms']:.2f}x, "
              f"at p99: {w['handler']['p99_ms'] / w['lookup_reference']['p99_ms']:.2f}x; "
              f"connections opened: {w['connections_opened']}  (target p99 < 30 ms)", flush=True)
        with tempfile.TemporaryDirectory(prefix="chatbot-bench-") as tmp:
            zip_path = Path(tmp) / "chatbot_lambda.zip"
            figures["zip_mb"] = build_zip(zip_path)
            figures["cold"] = c = cold(env, zip_path, args.cold_runs)
        print(f"cold start (median of {args.cold_runs}): imports {c['imports_ms']:.0f} ms + first answer "
              f"{c['first_answer_ms']:.0f} ms = {c['cold_start_ms']:.0f} ms (target < 500 ms); whole process "
              f"{c['process_ms']:.0f} ms incl. interpreter start; boto3 imported: {c['boto3_loaded']}", flush=True)
        print(f"zip: {figures['zip_mb']:.3f} MB (target < 15 MB)", flush=True)
    finally:
        with root.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database}")
        root.close()
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
