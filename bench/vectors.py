"""Vector-stage benchmark: the similarity job's read of a snapshot and its artist vectors against DuckDB
doing the same work on the same Parquet files, paired in each of 3 runs.

    python -m bench.vectors --artists 200000                          # a few minutes on 2 cores
    python -m bench.vectors --artists 1000000 --workdir /tmp/bench     # the figure of bench/RESULTS.md

On the default setting (twelve signals, rank normalization, Euclidean), on a synthetic lake made with
jobs/ingest.py when --workdir has none. Each run is a fresh process, as a job is:

  spark   the job's own code for its "read snapshot" and "artist vectors" stages, timed from a cold JVM:
          Lake.read_snapshot, the check for features on the track rows, artist_signals, then
          artist_vectors (one collect, normalization on the driver);
  duckdb  then, in the same process, DuckDB with --cores threads on the Parquet files those frames read
          (no Delta extension needed): the same complete-feature test, per-artist fixed-point means
          (round(x * 2^30) summed as integers), metadata means, track counts, imputation by the mean,
          the artists' semi join, and the mid-rank quantile per signal.

The ratio Spark / DuckDB of each run is printed, and their median (the target: at most 3). The vectors
of the two sides are compared (same artists; the largest absolute difference). The load average is
printed beside the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import child_env
from shared.version import program_parser

REPO = Path(__file__).resolve().parents[1]
DT = "2026-01-01"
TABLES = ("artists", "top_tracks", "audio_features")
PRESET = "default"
TARGET = 3.0
RUNS = 3


# ---------------------------------------------------------------- orchestration (parent process)


def main() -> int:
    parser = program_parser(
        "python -m bench.vectors",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--artists", type=int, default=200_000, help="synthetic artists (default 200,000)")
    parser.add_argument("--cores", type=int, default=os.cpu_count(), help="local[N] for Spark, threads for DuckDB")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--workdir", help="where the lake goes (default: a temporary folder)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lake", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(paired_run(args)), flush=True)
        return 0

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="vectors-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    lake = workdir / f"lake-{args.artists}"
    figures: dict = {"artists": args.artists, "cores": args.cores, "preset": PRESET, "lake": make_lake(args, lake)}
    print(f"# vector-stage benchmark: {args.artists:,} artists, {args.cores} cores, workdir {workdir}", flush=True)
    figures["runs"] = []
    for number in range(1, RUNS + 1):
        load = [round(x, 2) for x in os.getloadavg()]
        run = child(args, lake)
        run["load_average"] = load
        figures["runs"].append(run)
        print(
            f"run {number}: Spark {run['spark']['total_s']:.2f} s (read {run['spark']['read_s']:.2f}, vectors "
            f"{run['spark']['vectors_s']:.2f}), DuckDB {run['duckdb_s']:.2f} s, ratio {run['ratio']:.2f}, "
            f"load average {load}",
            flush=True,
        )
    summarize(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0 if all(run["agreement"]["same"] for run in figures["runs"]) else 1


def make_lake(args, lake: Path) -> dict:
    if all((lake / t / f"dt={DT}").is_dir() for t in TABLES):
        return {"generated": False, "path": str(lake)}
    command = [
        sys.executable,
        "jobs/ingest.py",
        "--source",
        "synthetic",
        "--artists",
        str(args.artists),
        "--lake",
        str(lake),
        "--dt",
        DT,
        "--set",
        f"spark.master=local[{args.cores}]",
    ]
    print(f"\n## lake: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, env=child_env())
    return {"generated": True, "path": str(lake), "generate_s": round(time.perf_counter() - started, 1)}


def child(args, lake: Path) -> dict:
    """One paired run in a fresh process; returns the figures it printed as its last line."""
    command = [
        sys.executable,
        "-m",
        "bench.vectors",
        "--child",
        "--lake",
        str(lake),
        "--cores",
        str(args.cores),
        "--driver-memory",
        args.driver_memory,
    ]
    done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True, env=child_env())
    if done.returncode != 0:
        raise SystemExit(f"a paired run failed with exit status {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def summarize(figures: dict) -> None:
    runs = figures["runs"]
    ratios = [run["ratio"] for run in runs]
    figures["median_ratio"] = median(ratios)
    agree = runs[-1]["agreement"]
    print("\n# summary", flush=True)
    print(
        f"{agree['artists']:,} artist vectors ({PRESET} setting); same artists on both sides: {agree['same_artists']}"
        + (
            f"; max |Spark - DuckDB| = {agree['max_abs_difference']:.3g}, bit-identical: {agree['bit_identical']}"
            if agree["same_artists"]
            else f" (DuckDB: {agree['duckdb_artists']:,})"
        )
    )
    print(
        f"read + vectors, Spark (cold process) / DuckDB ({figures['cores']} threads), {len(runs)} paired runs: "
        f"{', '.join(f'{r:.2f}' for r in ratios)}; median {figures['median_ratio']:.2f} "
        f"(target <= {TARGET}: {'met' if figures['median_ratio'] <= TARGET else 'not met'})"
    )
    print(
        f"  Spark median {median([r['spark']['total_s'] for r in runs]):.2f} s, DuckDB median "
        f"{median([r['duckdb_s'] for r in runs]):.2f} s; load averages {[r['load_average'] for r in runs]}"
    )


# ---------------------------------------------------------------- one paired run (child process)


def paired_run(args) -> dict:
    from jobs.common.config import load_config, set_path
    from jobs.common.lake import Lake
    from jobs.common.spark import start_spark
    from jobs.transform.artist_vectors import artist_vectors
    from jobs.transform.signals import PRESETS, artist_signals, features_to_join

    preset = PRESETS[PRESET]
    features = preset["features"]
    config = load_config()
    set_path(config, "spark.master", f"local[{args.cores}]")
    set_path(config, 'spark.conf."spark.driver.memory"', args.driver_memory)
    spark = start_spark(config, "bench-vectors")
    source = Lake(spark, args.lake)
    started = time.perf_counter()
    frames = source.read_snapshot(DT, TABLES)  # the job's "read snapshot" stage
    audio = features_to_join(frames, source.column_has_values("top_tracks", DT, "audio_features"))
    read_s = time.perf_counter() - started
    status = artist_signals(frames["top_tracks"], audio, frames["artists"], features, preset["shared_tracks"])
    made = artist_vectors(status, features, preset["normalization"], preset["metric"], preset["weights"].items())
    total_s = time.perf_counter() - started  # ... and its "artist vectors" stage
    if audio is not None:
        raise SystemExit("this lake keeps its features apart from the track rows: make it again with jobs/ingest.py")
    files = {t: sorted(f for f in frames[t].inputFiles() if f"/dt={DT}/" in f) for t in ("artists", "top_tracks")}
    spark.stop()
    duck_s, duck = duckdb_vectors(args.cores, files, features)
    spark_side = {"read_s": round(read_s, 2), "vectors_s": round(total_s - read_s, 2), "total_s": round(total_s, 2)}
    return {
        "spark": spark_side,
        "duckdb_s": round(duck_s, 3),
        "ratio": round(total_s / duck_s, 2),
        "agreement": compare(made, duck, features),
    }


FIXED_POINT = "CAST(1073741824 AS DOUBLE)"  # 2^30, as jobs/transform/vectors.py's _FIXED_POINT
METADATA_SQL = {"track_popularity": "CAST(popularity AS DOUBLE)", "release_year": "CAST(year(release_date) AS DOUBLE)"}


def vectors_sql(features: list[str]) -> str:
    """The default setting's vectors in DuckDB SQL over views ``artists`` and ``top_tracks`` (features on the
    track rows), as jobs/transform/signals.py and artist_vectors.py make them."""
    audio = [f for f in features if f not in METADATA_SQL and f != "track_count"]
    values = ", ".join(
        [
            *(
                f"CASE WHEN isfinite(CAST(audio_features.{f} AS DOUBLE)) "
                f"THEN CAST(audio_features.{f} AS DOUBLE) END AS {f}"
                for f in audio
            ),
            *(f"{sql} AS {name}" for name, sql in METADATA_SQL.items()),
        ]
    )
    complete = " AND ".join(f"{f} IS NOT NULL" for f in audio)

    def units(column: str) -> str:
        return f"CAST(round({column} * {FIXED_POINT}) AS BIGINT)"

    means = ", ".join(
        [
            *(
                f"CAST(sum(CASE WHEN ok THEN {units(f)} END) AS DOUBLE) / CAST(count_if(ok) AS DOUBLE) "
                f"/ {FIXED_POINT} AS {f}"
                for f in audio
            ),
            *(
                f"CAST(sum({units(name)}) AS DOUBLE) / CAST(count({name}) AS DOUBLE) / {FIXED_POINT} AS {name}"
                for name in METADATA_SQL
            ),
            "CAST(count(*) AS DOUBLE) AS track_count",
        ]
    )
    filled = ", ".join(
        f"coalesce({f}, (SELECT avg(CAST({f} AS DECIMAL(38, 18))) FROM usable)) AS {f}" if f in METADATA_SQL else f
        for f in features
    )
    ranked = ", ".join(
        f"(rank() OVER (ORDER BY {f}) - 1 + (count(*) OVER (PARTITION BY {f}) - 1) / 2.0) "
        f"/ (count(*) OVER () - 1) AS {f}"
        for f in features
    )
    return f"""
        WITH tracks AS (SELECT artist_id, {values} FROM top_tracks
                        WHERE artist_id IS NOT NULL AND track_id IS NOT NULL),
        marked AS (SELECT *, ({complete}) AS ok FROM tracks),
        stats AS (SELECT artist_id, count_if(ok) AS usable_tracks, {means} FROM marked GROUP BY artist_id),
        usable AS (SELECT * FROM stats WHERE usable_tracks > 0
                   AND artist_id IN (SELECT artist_id FROM artists WHERE artist_id IS NOT NULL)),
        imputed AS (SELECT artist_id, {filled} FROM usable)
        SELECT artist_id, {ranked} FROM imputed
    """


def duckdb_vectors(cores: int, files: dict, features: list[str]):
    """``(seconds, Arrow table)`` of :func:`vectors_sql` over the Parquet files the Spark side read."""
    import duckdb

    con = duckdb.connect(config={"threads": cores})
    for table, paths in files.items():
        con.read_parquet([p.removeprefix("file://").removeprefix("file:") for p in paths]).create_view(table)
    started = time.perf_counter()
    table = con.sql(vectors_sql(list(features))).to_arrow_table()
    return time.perf_counter() - started, table


def compare(made, duck, features) -> dict:
    """Same artists, and the largest absolute difference of any coordinate (vectors matched by artist)."""
    import numpy as np
    import pyarrow.compute as pc

    spark_order = np.argsort(np.array(made.ids.to_pylist(), dtype=object))
    duck = duck.take(pc.sort_indices(duck, [("artist_id", "ascending")]))
    ids = [made.ids[int(i)].as_py() for i in spark_order]
    same_ids = ids == duck.column("artist_id").to_pylist()
    result = {"artists": len(ids), "duckdb_artists": duck.num_rows, "same_artists": same_ids}
    if same_ids:
        a = made.points[spark_order]
        b = np.column_stack([duck.column(f).to_numpy() for f in features])
        result["max_abs_difference"] = float(np.max(np.abs(a - b))) if a.size else 0.0
        result["bit_identical"] = bool(np.array_equal(a, b))
    result["same"] = same_ids and result["max_abs_difference"] <= 1e-9
    return result


if __name__ == "__main__":
    sys.exit(main())
