"""Chatbot benchmark: answer latency in a warm Lambda (known names and typos), cold start, the zip's size.

    python -m bench.chatbot                                  # 1,000,000 artists in MariaDB, 100,000 in SQLite
    python -m bench.chatbot --artists 100000 --requests 1000 --typos 300 --sqlite-artists 0   # a quick look

Uses the private MariaDB of scripts/mariadb.sh (started if needed): a fresh database and a user with
a random password for this run, filled with generated artists (bench/chatbot_data.py: realistic
Latin and Hangul names, some aliases, 3 top tracks and 3 related artists each), dropped at the end.
Figures, all from this run:

  known      the handler (API Gateway event in, HTTP response out) answering known artists by name
             or alias through one reused connection: p50 / p90 / p99 / max. Reference: the lookup
             statement alone, through the same driver.
  typo       the handler answering a typo (live lookups off: suggestions from the mart's index, and
             the request recorded), and how often the intended artist is answered or suggested first.
             Reference: the exact lookup of the same run; also the suggestion statement alone, and the
             suggestion statement of mart schema version 1 (LIKE over every key) on a sample.
  sqlite     the same typos against an SQLite file of --sqlite-artists artists, next to the version 1
             statement on the same file.
  cold       a fresh interpreter with only the built zip and the standard library on its path, as
             on Lambda: importing the handler, then the first answer. Median of --cold-runs.
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

from bench import chatbot_data
from shared.version import program_parser
from tests.support.skill_calls import http_api_event, skill_body

REPO = Path(__file__).resolve().parents[1]
SOCKET = REPO / ".cache" / "mariadb" / "mysqld.sock"
MART_DOWN = "잠시 뒤에 다시 시도해 주세요"  # the mart_down reply: a statement failed or timed out

# Run with the zip alone on the path (PYTHONPATH, no site, no working directory), as on Lambda.
COLD_PROBE = """if True:
    import json, os, sys, time
    started = time.perf_counter()
    from chatbot_lambda import handler
    imported = time.perf_counter()
    event = {"version": "2.0", "rawPath": "/skill", "requestContext": {"http": {"method": "POST"}},
             "headers": {}, "body": sys.argv[1]}
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
    print(
        f"{label:<44} p50 {figures['p50_ms']:8.2f} ms   p90 {figures['p90_ms']:8.2f} ms   "
        f"p99 {figures['p99_ms']:8.2f} ms   max {figures['max_ms']:8.2f} ms   (n={figures['n']:,})",
        flush=True,
    )


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def v1_suggestions(conn, key: str, sqlite: bool) -> list:
    """Mart schema version 1's suggestion statement, for reference: keys sharing 2-3 letter pieces with
    the typed key (LIKE '%..%' over every name and alias key), those sharing the most first."""
    from mart.serving import fetch_all

    if len(key) <= 2:
        pieces, pattern = [key], [key.replace("%", "!%").replace("_", "!_") + "%"]
    else:
        size = 3 if len(key) >= 7 else 2
        last = len(key) - size
        pieces = list(dict.fromkeys(key[round(i * last / 11) :][:size] for i in range(12)))
        pattern = ["%" + p.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%" for p in pieces]
    spread = pattern[:: max(1, len(pattern) // 4)][:4]
    like = "{col} LIKE ? ESCAPE '!'"
    any_of, count = " OR ".join([like] * len(spread)), " + ".join(f"({like})" for _ in pattern)
    sql = (
        f"SELECT name, name_key FROM (SELECT a.name, a.name_key, a.popularity, {count.format(col='a.name_key')} "
        f"AS hits FROM artists a WHERE {any_of.format(col='a.name_key')} UNION ALL SELECT a.name, l.alias_key, "
        f"a.popularity, {count.format(col='l.alias_key')} AS hits FROM artist_aliases l JOIN artists a ON "
        f"a.artist_id = l.artist_id WHERE {any_of.format(col='l.alias_key')}) c ORDER BY hits DESC, "
        f"ABS({'LENGTH' if sqlite else 'CHAR_LENGTH'}(name_key) - ?), popularity DESC, name LIMIT 300"
    )
    return fetch_all(conn, sql, (*pattern, *spread, *pattern, *spread, len(key)))


def typo_queries(data: dict, count: int, seed: int = 5) -> list[tuple[str, str, str]]:
    """``(typed, kind, intended artist_id)`` for ``count`` random artists."""
    rng = random.Random(seed)
    artists = data["artists"]
    queries = []
    for row in (rng.choice(artists) for _ in range(count)):
        typed, kind = chatbot_data.typo(rng, row[1])
        queries.append((typed, kind, row[0]))
    return queries


def answered(response: dict, intended: str, names: dict) -> str:
    """``first`` when the reply answers the intended artist's name or suggests it first, ``top5`` when it
    is among the suggestions, else ``missed`` (by name, as a user sees it: generated names repeat)."""
    reply = json.loads(response["body"])["template"]
    cards = [o for o in reply["outputs"] if "carousel" in o]
    if cards:
        return "first" if cards[0]["carousel"]["items"][0]["header"]["title"] == names[intended] else "missed"
    shown = [q["messageText"] for q in reply.get("quickReplies", [])]
    return "first" if shown[:1] == [names[intended]] else "top5" if names[intended] in shown else "missed"


def warm(env: dict, data: dict, requests: int, typos: int, v1_samples: int, sqlite: bool = False) -> dict:
    from chatbot_lambda.app import SkillApp
    from chatbot_lambda.settings import Settings
    from mart import serving, suggest
    from shared.names import name_key

    logging.getLogger("chatbot_lambda").setLevel(logging.ERROR)  # one log line per answer otherwise
    app = SkillApp(Settings.from_env(env))
    rng = random.Random(7)
    names = {row[0]: row[1] for row in data["artists"]}
    aliases = [row[0] for row in data["artist_aliases"]]
    asked = [
        rng.choice(data["artists"])[1] if rng.random() > 0.1 or not aliases else rng.choice(aliases)
        for _ in range(requests)
    ]
    for name in asked[:50]:  # warm-up: connection, caches
        app.handle(http_api_event(skill_body(name)))
    known_ms = []
    for name in asked:
        ms, response = timed(lambda name=name: app.handle(http_api_event(skill_body(name))))
        known_ms.append(ms)
        assert response["statusCode"] == 200 and '"carousel"' in response["body"], (name, response["body"][:300])
    s = app.settings
    conn = serving.connect(s.mart_url, s.mart_user, s.mart_password, timeout=5)  # statements alone
    lookup_ms = [timed(lambda name=name: serving.find_artist(conn, name, 3))[0] for name in asked]
    figures = {"known": percentiles(known_ms), "lookup": percentiles(lookup_ms)}
    queries = typo_queries(data, typos)
    typo_ms, outcomes, kinds = [], {"first": 0, "top5": 0, "missed": 0, "mart_down": 0}, {}
    for typed, kind, intended in queries:
        ms, response = timed(
            lambda typed=typed: app.handle(http_api_event(skill_body(typed, user=f"u{rng.randrange(50)}")))
        )
        typo_ms.append(ms)
        outcome = "mart_down" if MART_DOWN in response["body"] else answered(response, intended, names)
        outcomes[outcome] += 1
        kinds.setdefault(kind, {"first": 0, "top5": 0, "missed": 0, "mart_down": 0})[outcome] += 1
    figures["typo"] = percentiles(typo_ms)
    figures["typo_outcomes"] = {k: round(v / len(queries), 3) for k, v in outcomes.items()}
    figures["typo_kinds"] = kinds
    figures["suggest_statement"] = percentiles(
        [timed(lambda t=t: suggest.candidates(conn, name_key(t)))[0] for t, _, _ in queries]
    )
    if v1_samples:
        figures["v1_statement"] = percentiles(
            [timed(lambda t=t: v1_suggestions(conn, name_key(t), sqlite))[0] for t, _, _ in queries[:v1_samples]]
        )
    figures["connections_opened"] = app.repository.connections_opened
    app.repository.close()
    conn.close()
    return figures


def report(label: str, w: dict) -> None:
    show(f"{label}: handler, known artist", w["known"])
    show(f"{label}: reference, the lookup statement alone", w["lookup"])
    show(f"{label}: handler, a typo (suggestions + request)", w["typo"])
    show(f"{label}: the suggestion statement alone", w["suggest_statement"])
    if "v1_statement" in w:
        show(f"{label}: reference, schema 1's LIKE suggestion", w["v1_statement"])
    o = w["typo_outcomes"]
    print(
        f"  typo answered or suggested first {o['first']:.1%}, among the suggestions {o['top5']:.1%}, "
        f"missed {o['missed']:.1%}, mart timed out {o['mart_down']:.1%}; by kind: {json.dumps(w['typo_kinds'])}; "
        f"connections opened: {w['connections_opened']}",
        flush=True,
    )
    print(
        f"  typo / exact lookup: p50 {w['typo']['p50_ms'] / w['known']['p50_ms']:.2f}x, "
        f"p99 {w['typo']['p99_ms'] / w['known']['p99_ms']:.2f}x (target: typo p99 < 30 ms at 1M on MariaDB)",
        flush=True,
    )


def build_zip(out: Path) -> float:
    done = subprocess.run(
        [sys.executable, "scripts/lambda/build_zip.py", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"# {done.stdout.strip()}", flush=True)
    return out.stat().st_size / 2**20


def cold(env: dict, zip_path: Path, runs: int, name: str) -> dict:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-P", "-s", "-S", "-c", COLD_PROBE, skill_body(name)],
            env={**env, "LOG_LEVEL": "WARNING", "PYTHONPATH": str(zip_path)},
            capture_output=True,
            text=True,
            check=True,
        )
        sample = json.loads(done.stdout.strip().splitlines()[-1])
        assert sample["pymysql"].startswith(str(zip_path)), sample
        samples.append({**sample, "process_ms": (time.perf_counter() - started) * 1000})
    median = {
        key: statistics.median(s[key] for s in samples) for key in ("imports_ms", "first_answer_ms", "process_ms")
    }
    median["cold_start_ms"] = median["imports_ms"] + median["first_answer_ms"]
    median["boto3_loaded"] = any(s["boto3_loaded"] for s in samples)
    return median


def main() -> int:
    parser = program_parser(
        "python -m bench.chatbot",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--artists", type=int, default=1_000_000, help="artists in MariaDB (default 1,000,000)")
    parser.add_argument("--requests", type=int, default=5000, help="known-artist answers to time (default 5,000)")
    parser.add_argument("--typos", type=int, default=2000, help="typo answers to time (default 2,000)")
    parser.add_argument("--v1-samples", type=int, default=20, help="typos timed with schema 1's statement")
    parser.add_argument("--sqlite-artists", type=int, default=100_000, help="artists in the SQLite file (0: skip)")
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--port", type=int, default=3307, help="port of the private MariaDB")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    import pymysql

    from mart import serving

    subprocess.run(["scripts/mariadb.sh", "start"], cwd=REPO, check=True)
    root = pymysql.connect(unix_socket=str(SOCKET), user="root", autocommit=True, charset="utf8mb4")
    database, user, password = f"chatbot_bench_{secrets.token_hex(3)}", "chatbot_bench", secrets.token_hex(16)
    figures: dict = {"artists": args.artists}
    try:
        with root.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
            cursor.execute("CREATE OR REPLACE USER %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
            cursor.execute(f"GRANT SELECT, INSERT, UPDATE, CREATE ON {database}.* TO %s@'127.0.0.1'", (user,))
        ms, data = timed(lambda: chatbot_data.fill_mysql(root, database, args.artists))
        print(
            f"# filled {database} with {args.artists:,} artists ({len(data['artist_aliases']):,} aliases, "
            f"3 top tracks and 3 related each) in {ms / 1000:.1f} s",
            flush=True,
        )
        env = {
            "MART_URL": f"jdbc:mysql://127.0.0.1:{args.port}/{database}",
            "MART_USER": user,
            "MART_PASSWORD": password,
            "REQUEST_KEY": secrets.token_urlsafe(32),
        }
        figures["mariadb"] = w = warm(env, data, args.requests, args.typos, args.v1_samples)
        report(f"MariaDB {args.artists:,}", w)
        with tempfile.TemporaryDirectory(prefix="chatbot-bench-") as tmp:
            zip_path = Path(tmp) / "chatbot_lambda.zip"
            figures["zip_mb"] = build_zip(zip_path)
            figures["cold"] = c = cold(env, zip_path, args.cold_runs, data["artists"][0][1])
            print(
                f"cold start (median of {args.cold_runs}): imports {c['imports_ms']:.0f} ms + first answer "
                f"{c['first_answer_ms']:.0f} ms = {c['cold_start_ms']:.0f} ms (target < 500 ms); whole process "
                f"{c['process_ms']:.0f} ms incl. interpreter start; boto3 imported: {c['boto3_loaded']}",
                flush=True,
            )
            print(f"zip: {figures['zip_mb']:.3f} MB (target < 15 MB)", flush=True)
            if args.sqlite_artists:
                path = Path(tmp) / "mart.db"
                conn = serving.connect(f"jdbc:sqlite:{path}")
                ms, small = timed(lambda: chatbot_data.fill_sqlite(conn, args.sqlite_artists))
                conn.close()
                print(f"# filled {path.name} with {args.sqlite_artists:,} artists in {ms / 1000:.1f} s", flush=True)
                figures["sqlite"] = s = warm(
                    {"MART_URL": f"jdbc:sqlite:{path}"},
                    small,
                    min(args.requests, 2000),
                    min(args.typos, 500),
                    max(args.v1_samples, 100),
                    sqlite=True,
                )
                report(f"SQLite {args.sqlite_artists:,}", s)
    finally:
        with root.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database}")
        root.close()
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
