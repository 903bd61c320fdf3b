"""Mart benchmark: publishing a large snapshot to MariaDB, against the server's own bulk load, in one run.

    python -m bench.mart                                  # 1,000,000 artists: the issue's figures (quiet machine)
    python -m bench.mart --artists 200000 --parts publish,publish_jdbc,reference   # staging paths vs the server

Uses the private MariaDB of scripts/mariadb.sh (started if needed): a fresh database and a user with a
random password for this run, dropped at the end. Parts, each the real command in its own process:

  publish    python jobs/publish_mart.py publish with mart.staging_load = --staging-load (default auto:
             LOAD DATA LOCAL INFILE streamed from the Spark tasks, secondary indexes built after the load):
             the lake's artists, top tracks (3 per artist) and related_artists to staging tables, checks,
             the swap. Wall time, the job's own stage times, rows per second, peak memory of its process tree.
             "staging writes" includes building the staging tables' secondary indexes.
  publish_jdbc  the same with mart.staging_load = "jdbc" (Spark's JDBC writer, indexes made with the table).
  reference  the same rows, exported to tab-separated files by the server, loaded back with
             LOAD DATA INFILE into tables made from the same DDL (indexes included): the server's fastest
             bulk path, with no Spark, no network protocol per row and no checks.
  job        python jobs/similarity.py --preset <--preset, default seed: the issue's targets> with
             publishing: lake to mart, the whole batch.
  index      what the suggestion index (schema version 2's rev_key and initials on artists, each
             indexed) adds to a publish, in one Spark process: preparing the artists' rows with and
             without the suggestion keys, and writing them over JDBC into a table of each layout.

The lake (synthetic, --artists artists, its related_artists computed once with --no-publish) is kept
in --workdir and reused by later runs.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import PeakMemory, child_env
from shared.version import program_parser

REPO = Path(__file__).resolve().parents[1]
DT = "2026-01-01"
TABLES = ("artists", "artist_aliases", "top_tracks", "related_artists")
SOCKET = REPO / ".cache" / "mariadb" / "mysqld.sock"
# Schema version 1's artists table: no suggestion keys, no indexes on them (the index part's reference).
V1_ARTISTS = """CREATE TABLE {table} (
  artist_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, name VARCHAR(512) NOT NULL,
  name_key VARCHAR(512) COLLATE utf8mb4_bin NOT NULL, image_url VARCHAR(1024), spotify_url VARCHAR(1024),
  genres TEXT, popularity SMALLINT, PRIMARY KEY (artist_id), KEY ix_bench_v1_name_key (name_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"""
PUBLISHED = re.compile(r"published \S+ \(dt=\S+\) in ([\d.]+) s \(([\d,]+) rows/s\): (.*)$")


def main() -> int:
    parser = program_parser(
        "python -m bench.mart",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--parts", default="publish,publish_jdbc,reference,job,index", help="comma-separated parts (default: all)"
    )
    parser.add_argument("--artists", type=int, default=1_000_000)
    parser.add_argument("--cores", type=int, default=2, help="local[N] for the Spark jobs")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--workdir", help="where the synthetic lake goes (default: a temporary folder)")
    parser.add_argument("--port", type=int, default=3307, help="port of the private MariaDB")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--staging-load",
        default="auto",
        choices=("auto", "load_data", "jdbc"),
        help="mart.staging_load of the publish and job parts (default auto)",
    )
    parser.add_argument(
        "--preset",
        default="seed",
        help="similarity preset of the job part (default seed, the "
        "setting the issue's targets are measured on; 'none' for the configured default)",
    )
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]

    subprocess.run(["scripts/mariadb.sh", "start"], cwd=REPO, check=True)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="mart-bench-"))
    lake = workdir / f"lake-{args.artists}"
    ensure_lake(args, lake)

    import pymysql

    root = pymysql.connect(unix_socket=str(SOCKET), user="root", autocommit=True, local_infile=False)
    database, user, password = f"mart_bench_{secrets.token_hex(3)}", "mart_bench", secrets.token_hex(16)
    with root.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
        cursor.execute("CREATE OR REPLACE USER %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
        cursor.execute(f"GRANT ALL ON {database}.* TO %s@'127.0.0.1'", (user,))
    url = f"jdbc:mysql://127.0.0.1:{args.port}/{database}"
    mart_args = [
        "--lake",
        str(lake),
        "--dt",
        DT,
        "--mart",
        url,
        "--set",
        f"mart.user={user}",
        "--set",
        f"spark.master=local[{args.cores}]",
        "--set",
        f'spark.conf."spark.driver.memory"={args.driver_memory}',
    ]
    env = dict(child_env(), MART_PASSWORD=password)
    print(f"# mart benchmark: {args.artists:,} artists, MariaDB database {database}, local[{args.cores}]", flush=True)
    figures: dict = {"artists": args.artists, "cores": args.cores}
    try:
        load = ["--set", f'mart.staging_load="{args.staging_load}"']
        if "publish" in parts:
            figures["publish"] = run_job(
                "publish", [sys.executable, "jobs/publish_mart.py", "publish", *mart_args, *load], env
            )
        if "publish_jdbc" in parts:
            figures["publish_jdbc"] = run_job(
                "publish_jdbc",
                [sys.executable, "jobs/publish_mart.py", "publish", *mart_args, "--set", 'mart.staging_load="jdbc"'],
                env,
            )
        if "reference" in parts:
            figures["reference"] = load_data_reference(root, database, workdir)
        if "job" in parts:
            preset = [] if args.preset == "none" else ["--preset", args.preset]
            figures["job"] = run_job("job", [sys.executable, "jobs/similarity.py", *preset, *mart_args, *load], env)
            figures["job"]["preset"] = args.preset
        if "index" in parts:
            figures["index"] = index_cost(args, lake, url, user, password)
    finally:
        with root.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database}")
        root.close()
    summarize(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


def ensure_lake(args, lake: Path) -> None:
    """A synthetic lake with related_artists for DT (made once, kept in the workdir)."""
    if (lake / "related_artists" / "_delta_log").is_dir():
        print(f"# reusing the lake at {lake}", flush=True)
        return
    common = [
        "--lake",
        str(lake),
        "--dt",
        DT,
        "--set",
        f"spark.master=local[{args.cores}]",
        "--set",
        f'spark.conf."spark.driver.memory"={args.driver_memory}',
    ]
    for command in (
        [sys.executable, "jobs/ingest.py", "--source", "synthetic", "--artists", str(args.artists)],
        [sys.executable, "jobs/similarity.py", "--no-publish"],
    ):
        print(f"# making the lake: {' '.join(command[1:3])}", flush=True)
        subprocess.run([*command, *common], cwd=REPO, check=True, env=child_env(), stderr=subprocess.DEVNULL)


def run_job(part: str, command: list[str], env: dict) -> dict:
    """Wall time, peak memory and the publish line of one job run."""
    print(f"\n## {part}: {' '.join(command[1:3])}", flush=True)
    with PeakMemory() as peak:
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, stderr=subprocess.PIPE, text=True, env=env)
        wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"{part} failed with exit status {done.returncode}")
    figures = {"wall_s": round(wall, 1), "peak_rss_gib": round(peak.gib, 2)}
    for line in done.stderr.splitlines():
        match = PUBLISHED.search(line)
        if match:
            figures.update(
                publish_s=float(match.group(1)),
                rows_per_s=int(match.group(2).replace(",", "")),
                publish_stages=match.group(3),
            )
        elif "jobs.similarity: " in line and line.rstrip().endswith(" s"):
            name, _, seconds = line.split("jobs.similarity: ", 1)[1].rpartition(": ")
            figures.setdefault("stages_s", {})[name] = float(seconds.split()[0])
        elif "jobs.publish.mart: staging writes: " in line:
            figures["staging_path"] = line.split("staging writes: ", 1)[1].split(" (")[0]
        elif "jobs.publish.mart: publish " in line:
            figures["rows"] = line.split(": ", 2)[2]
    print(json.dumps(figures), flush=True)
    return figures


def load_data_reference(root, database: str, workdir: Path) -> dict:
    """Time LOAD DATA INFILE of the live tables' rows into fresh tables of the same DDL."""
    from mart.schema import create_statements

    print("\n## reference: LOAD DATA INFILE of the same rows", flush=True)
    folder = workdir / f"export-{database}"
    folder.mkdir(parents=True, exist_ok=True)
    rows, seconds = 0, 0.0
    with root.cursor() as cursor:
        cursor.execute(f"USE {database}")
        for table in TABLES:
            export = folder / f"{table}.tsv"
            export.unlink(missing_ok=True)
            cursor.execute(f"SELECT * FROM {table} INTO OUTFILE '{export}'")
            copy = f"{table}__bench"
            cursor.execute(f"DROP TABLE IF EXISTS {copy}")
            for statement in create_statements("mysql", table, copy, tag=secrets.token_hex(4)):
                cursor.execute(statement)
            started = time.perf_counter()
            loaded = cursor.execute(f"LOAD DATA INFILE '{export}' INTO TABLE {copy}")
            seconds += time.perf_counter() - started
            rows += loaded
            cursor.execute(f"DROP TABLE {copy}")
            export.unlink()
    figures = {"rows": rows, "load_s": round(seconds, 1), "rows_per_s": int(rows / seconds) if seconds else 0}
    print(json.dumps(figures), flush=True)
    return figures


def index_cost(args, lake: Path, url: str, user: str, password: str) -> dict:
    """Seconds the suggestion keys add to preparing and to writing the artists of a publish (same run, the
    better of two passes of each)."""
    from pyspark.sql import functions as F

    from jobs.common.config import load_config, set_path
    from jobs.common.jdbc import MartConnection, MartTarget
    from jobs.common.lake import Lake
    from jobs.common.names_udf import name_key_udf
    from jobs.common.spark import start_spark
    from jobs.publish.frames import mart_artists
    from mart.schema import COLUMNS, create_statements

    print("\n## index: what the suggestion keys add to a publish", flush=True)
    config = load_config()
    set_path(config, "spark.master", f"local[{args.cores}]")
    set_path(config, 'spark.conf."spark.driver.memory"', args.driver_memory)
    spark = start_spark(config, "bench-index")
    lake_artists = Lake(spark, str(lake)).read("artists", DT)
    v1 = ["artist_id", "name", "name_key", "image_url", "spotify_url", "genres", "popularity"]
    frames = {
        "with keys": mart_artists(lake_artists),
        "without": mart_artists(lake_artists)
        .drop("name_key", "rev_key", "initials")
        .withColumn("name_key", F.substring(name_key_udf("name"), 1, 512))
        .select(*v1),
    }
    target = MartTarget(url=url, user=user, password=password)
    figures: dict = {}
    for label, frame in [*frames.items(), *frames.items()]:  # twice each: the first pass warms Python up
        started = time.perf_counter()
        frame = frame.persist()
        rows = frame.count()
        prepare = round(time.perf_counter() - started, 1)
        figures[f"prepare {label} s"] = min(prepare, figures.get(f"prepare {label} s", prepare))
        table = "bench_artists_" + ("v2" if label == "with keys" else "v1")
        with MartConnection(spark, target) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            statements = (
                create_statements("mysql", "artists", table, tag=secrets.token_hex(4))
                if label == "with keys"
                else [V1_ARTISTS.format(table=table)]
            )
            for statement in statements:
                conn.execute(statement)
            started = time.perf_counter()
            (
                frame.select(*(COLUMNS["artists"] if label == "with keys" else v1))
                .coalesce(2)
                .write.format("jdbc")
                .option("url", url)
                .option("dbtable", table)
                .option("batchsize", 10000)
                .options(**target.properties())
                .mode("append")
                .save()
            )
            write = round(time.perf_counter() - started, 1)
            figures[f"write {label} s"] = min(write, figures.get(f"write {label} s", write))
            conn.execute(f"DROP TABLE {table}")
        frame.unpersist()
        figures["rows"] = rows
    spark.stop()
    figures["added s"] = round(
        figures["prepare with keys s"]
        + figures["write with keys s"]
        - figures["prepare without s"]
        - figures["write without s"],
        1,
    )
    print(json.dumps(figures), flush=True)
    return figures


def summarize(figures: dict) -> None:
    print("\n# summary", flush=True)
    reference, job = figures.get("reference"), figures.get("job")
    publish = figures.get("publish") or figures.get("publish_jdbc")
    for part in ("publish", "publish_jdbc"):
        run = figures.get(part)
        if not run:
            continue
        print(
            f"{part} of {figures['artists']:,} artists ({run.get('rows')}), staging by {run.get('staging_path')}: "
            f"{run['publish_s']:.1f} s inside the job, {run['rows_per_s']:,} rows/s ({run['publish_stages']}); "
            f"process wall {run['wall_s']:.1f} s, peak memory {run['peak_rss_gib']:.2f} GiB"
        )
    if reference:
        print(
            f"reference LOAD DATA INFILE of the same {reference['rows']:,} rows: {reference['load_s']:.1f} s, "
            f"{reference['rows_per_s']:,} rows/s"
        )
        for part in ("publish", "publish_jdbc"):
            run = figures.get(part)
            if not run:
                continue
            written = sum(int(n.replace(",", "")) for n in re.findall(r"[\d,]+", run.get("rows", "")))
            staging = float(re.search(r"staging writes ([\d.]+) s", run["publish_stages"]).group(1))
            print(
                f"{part}: staging writes (indexes included) by {run.get('staging_path')}: {written / staging:,.0f} "
                f"rows/s, {written / staging / reference['rows_per_s']:.2f} of LOAD DATA INFILE's rate "
                f"(target >= 0.85); whole publish (with preparing the rows in Spark and the checks): "
                f"{run['rows_per_s'] / reference['rows_per_s']:.2f}"
            )
    index = figures.get("index")
    if index:
        print(
            f"suggestion keys on {index['rows']:,} artists: preparing {index['prepare with keys s']:.1f} s vs "
            f"{index['prepare without s']:.1f} s without, writing {index['write with keys s']:.1f} s vs "
            f"{index['write without s']:.1f} s without: {index['added s']:+.1f} s"
            + (f" of the {publish['publish_s']:.1f} s publish" if publish else "")
        )
    if job:
        print(
            f"whole job (lake -> related_artists -> MariaDB, --preset {job['preset']}) at {figures['artists']:,} "
            f"artists: {job['wall_s']:.1f} s wall (target at 1M on seed: < 75 s), "
            f"peak memory {job['peak_rss_gib']:.2f} GiB; stages {job.get('stages_s')}"
        )


if __name__ == "__main__":
    sys.exit(main())
