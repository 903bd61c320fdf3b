"""Similarity benchmark: the project's exact neighbour search against its references, in one run.

    python -m bench.similarity                       # everything (about 12 minutes on 2 cores)
    python -m bench.similarity --parts naive,search  # a subset
    python -m bench.similarity --naive-artists 5000 --artists 100000 --big-artists 0   # quick look

Parts, each in its own process (its own Spark driver, its memory measured alone):

  job     the whole similarity job (python jobs/similarity.py) on a synthetic lake of --artists artists:
          wall time and peak memory of its process tree; driver memory is capped by --driver-memory.
          Run with the default setting, then with --preset seed (the six means, min-max), --job-repeats
          times (default 3) in turn: the default's median wall time, and the median of the paired ratios
          default / seed (what the default's extra signals cost; --job-presets seed,fast adds the fast preset).
  naive   at --naive-artists: the project's search against the naive crossJoin + window reference,
          both from the same cached vectors, both given every core (the naive one's cross join is
          spread over 4 partitions per core), both written once to parquet; the files are compared
          row for row.
  search  at --artists: the project's search (index, broadcast, Spark tasks, output rows) against a
          single process doing the same with scipy alone, on the same vectors (the lake's, made with
          --search-preset, default: the default preset): the data put in the same leaf order, a cKDTree
          with the same settings (sliding midpoint, leafsize 32) built over it, and every vector queried
          in that order for the k+2 nearest (the project's first round: k, itself and one to prove ties),
          workers = --cores. After one untimed warm-up of the project (its Python workers started), the
          two are timed one after the other, 3 times: the 3 ratios and their median are printed, with
          where the project's time went (driver phases, task phases summed). Then the same for each of
          --search-also (printed apart and labelled). The README's figure (target: median at
          most 1.0):
              python -m bench.similarity --parts search --artists 1000000
  big     at --big-artists clustered vectors made in numpy and fed straight to the search.
  dims    at --dims-artists clustered vectors of 6, 8, ..., 16 dimensions: the project's search and the
          single-process cKDTree query in spatial order, each timed once per dimension (KD-trees slow
          down as dimensions grow; the default vector has 12, the fast preset 8).
  leaf    the lake's own vectors (rank-normalized, as the default makes them) of 6, 8, ..., 16 signals (the
          default's twelve, then four more), --leaf-artists of them drawn at random: the project's index (no
          Spark) with each ordering-tree leaf size of --leaf-sizes, every position queried in order in one
          thread, as one task does; the median of 3 per cell, printed as a table (what order_leaf_size() is
          set from).

Figures are printed as they come and as a summary at the end (also written as JSON with --json).
It is one script over 300 lines because the README's similarity figure table comes from it and its parts
share the lake, the vectors and the child-process setup.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import PeakMemory, child_env
from jobs.settings import DEFAULT_K
from jobs.transform.signals import PRESETS
from shared.version import program_parser

REPO = Path(__file__).resolve().parents[1]
DT = "2026-01-01"
REPEATS = 3  # "naive": best of this many runs; "search": this many ratios, each timed back to back
DEFAULT = PRESETS["default"]
FEATURES = DEFAULT["features"]  # the default vector (12 signals) for "naive"; "big" and "dims" make their own
SEARCH_TARGET = 1.0  # the median of 3 ratios to the single-process cKDTree with the same settings


# ---------------------------------------------------------------- orchestration (parent process)


def main() -> int:
    parser = program_parser(
        "python -m bench.similarity",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--parts", default="job,naive,search,big", help="comma-separated parts (default: all)")
    parser.add_argument("--naive-artists", type=int, default=20_000)
    parser.add_argument("--artists", type=int, default=1_000_000)
    parser.add_argument("--big-artists", type=int, default=10_000_000)
    parser.add_argument("--dims-artists", type=int, default=1_000_000)
    parser.add_argument("--leaf-artists", type=int, default=300_000)
    parser.add_argument("--leaf-sizes", default="16,32,64,256")
    parser.add_argument("--leaf-dims", default="6,8,10,12,14,16")
    parser.add_argument("--job-presets", default="seed", help="presets the 'job' part also runs (comma-separated)")
    parser.add_argument("--job-repeats", type=int, default=3, help="runs of each setting in the 'job' part")
    parser.add_argument(
        "--search-preset",
        default="default",
        choices=sorted(PRESETS),
        help="the vectors of the 'search' part's target ratio (default: seed)",
    )
    parser.add_argument(
        "--search-also",
        default="seed",
        help="presets the 'search' part also measures, labelled apart (comma-separated; '' for none)",
    )
    parser.add_argument("--k", type=int, default=DEFAULT_K)
    parser.add_argument("--cores", type=int, default=os.cpu_count(), help="local[N] for every Spark part")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--big-driver-memory", default="8g", help="driver memory of the 'big' part")
    parser.add_argument("--workdir", help="where the synthetic lakes go (default: a temporary folder)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(args)

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - {"job", "naive", "search", "big", "dims", "leaf"}
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="similarity-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"# similarity benchmark: {args.cores} cores, workdir {workdir}", flush=True)
    figures: dict = {"cores": args.cores}
    if "job" in parts or "search" in parts:
        lake = workdir / f"lake-{args.artists}"
        figures["lake"] = child(args, "lake", lake=str(lake), artists=args.artists)
        if "job" in parts:
            presets = [p.strip() for p in args.job_presets.split(",") if p.strip()]
            runs: dict[str, list] = {"job": [], **{f"job_{preset}": [] for preset in presets}}
            for _ in range(max(1, args.job_repeats)):
                runs["job"].append(measure_job(args, lake))
                for preset in presets:
                    runs[f"job_{preset}"].append(measure_job(args, lake, ["--preset", preset]))
            figures.update(median_jobs(runs))
        if "search" in parts:
            figures["search"] = child(args, "search", lake=str(lake), preset=args.search_preset)
            for preset in [p.strip() for p in args.search_also.split(",") if p.strip()]:
                if preset != args.search_preset:
                    figures[f"search_{preset}"] = child(args, "search", lake=str(lake), preset=preset)
    if "naive" in parts:
        lake = workdir / f"lake-{args.naive_artists}"
        child(args, "lake", lake=str(lake), artists=args.naive_artists)
        figures["naive"] = child(args, "naive", lake=str(lake))
    if "big" in parts and args.big_artists:
        figures["big"] = child(args, "big", artists=args.big_artists, memory=args.big_driver_memory)
    if "dims" in parts and args.dims_artists:
        figures["dims"] = child(args, "dims", artists=args.dims_artists)
    if "leaf" in parts:
        lake = workdir / f"lake-{args.artists}"
        child(args, "lake", lake=str(lake), artists=args.artists)
        vectors = workdir / f"leaf-vectors-{args.artists}.npy"
        if not vectors.exists():
            child(args, "leaf_vectors", lake=str(lake), out=str(vectors))
        figures["leaf"] = child(
            args,
            "leaf",
            vectors=str(vectors),
            artists=args.leaf_artists,
            sizes=[int(x) for x in args.leaf_sizes.split(",")],
            dims=[int(x) for x in args.leaf_dims.split(",")],
        )
    summarize(figures, args)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


def child(args, part: str, memory: str | None = None, **options) -> dict:
    """Run one part in a fresh process; returns the figures it printed as its last line."""
    command = [
        sys.executable,
        "-m",
        "bench.similarity",
        "--child",
        part,
        "--k",
        str(args.k),
        "--cores",
        str(args.cores),
        "--driver-memory",
        memory or args.driver_memory,
        "--json",
        json.dumps(options),
    ]
    print(f"\n## {part} {options}", flush=True)
    with PeakMemory() as peak:
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True, env=child_env())
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"part {part} failed with exit status {done.returncode}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures.update(wall_s=round(wall, 1), peak_rss_gib=round(peak.gib, 2))
    print(json.dumps(figures), flush=True)
    return figures


def measure_job(args, lake: Path, extra: list[str] = ()) -> dict:
    """Wall time and peak memory of the real similarity job (lake to related_artists, no publish)."""
    command = [
        sys.executable,
        "jobs/similarity.py",
        "--lake",
        str(lake),
        "--dt",
        DT,
        "--k",
        str(args.k),
        *extra,
        "--no-publish",
        "--set",
        f"spark.master=local[{args.cores}]",
        "--set",
        f'spark.conf."spark.driver.memory"={args.driver_memory}',
    ]
    print(f"\n## job: {' '.join(command[1:])}", flush=True)
    with PeakMemory() as peak:
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, stderr=subprocess.PIPE, text=True, env=child_env())
        wall = time.perf_counter() - started
    stages = {}
    for line in done.stderr.splitlines():
        if ": " in line and line.rstrip().endswith(" s") and "jobs.similarity:" in line:
            name, _, seconds = line.split("jobs.similarity: ", 1)[1].rpartition(": ")
            stages[name] = float(seconds.split()[0])
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"the similarity job failed with exit status {done.returncode}")
    figures = {
        "artists": args.artists,
        "setting": " ".join(extra) or "default",
        "wall_s": round(wall, 1),
        "peak_rss_gib": round(peak.gib, 2),
        "driver_memory": args.driver_memory,
        "stages_s": stages,
    }
    print(json.dumps(figures), flush=True)
    return figures


def median_jobs(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Each setting's run of median wall time, with every run's wall time (``walls_s``) and, for the other
    presets, the median of the default's ratios to them, run by run (``ratios``, ``median_ratio``)."""
    out = {}
    for name, measured in runs.items():
        walls = [run["wall_s"] for run in measured]
        middle = sorted(measured, key=lambda run: run["wall_s"])[len(measured) // 2]
        out[name] = {**middle, "walls_s": walls}
        if name != "job":
            ratios = [round(default["wall_s"] / other["wall_s"], 2) for default, other in zip(runs["job"], measured)]
            out[name].update(ratios=ratios, median_ratio=statistics.median(ratios))
    return out


def summarize(figures: dict, args) -> None:
    print("\n# summary", flush=True)
    naive = figures.get("naive")
    if naive:
        print(
            f"naive vs project at {naive['artists']:,} artists (local[{args.cores}]): naive {naive['naive_s']:.1f} s, "
            f"project {naive['project_s']:.2f} s -> {naive['naive_s'] / naive['project_s']:.0f}x faster "
            f"(target >= 30x); identical rows: {naive['identical']}"
        )
    for name, search in figures.items():
        if name == "search" or name.startswith("search_"):
            summarize_search(search, "" if name == "search" else "  (for information) ")
    job = figures.get("job")
    if job:
        print(
            f"whole similarity job at {job['artists']:,} artists, default setting: median {job['wall_s']:.1f} s wall "
            f"of {job['walls_s']} (target at most 75 s), peak memory of its processes {job['peak_rss_gib']:.2f} GiB, driver memory "
            f"{job['driver_memory']}; stages {job['stages_s']}"
        )
        for name, other in figures.items():
            if name.startswith("job_"):
                print(
                    f"  the same job with --preset {name[4:]}: median {other['wall_s']:.1f} s wall of "
                    f"{other['walls_s']}, stages {other['stages_s']}; default / {name[4:]}, run by run: "
                    f"{other['ratios']}, median {other['median_ratio']:.2f}"
                )
    dims = figures.get("dims")
    if dims:
        for d, row in sorted(dims["by_dims"].items(), key=lambda kv: int(kv[0])):
            print(
                f"search over {dims['artists']:,} vectors of {d} dimensions: project {row['project_s']:.2f} s, "
                f"cKDTree spatial-order query {row['ckdtree_s']:.2f} s -> ratio {row['project_s'] / row['ckdtree_s']:.2f}"
            )
    leaf = figures.get("leaf")
    if leaf:
        sizes = leaf["sizes"]
        print(
            f"index queries over {leaf['artists']:,} of the lake's vectors, one thread, median of 3 (s), by dimensions (rows) "
            f"and ordering leaf size (columns):"
        )
        print("dims " + "".join(f"{size:>8}" for size in sizes) + "    best")
        for dims, row in sorted(leaf["by_dims"].items(), key=lambda kv: int(kv[0])):
            best = min(sizes, key=lambda size: row[str(size)])
            print(f"{int(dims):>4} " + "".join(f"{row[str(size)]:>8.2f}" for size in sizes) + f"{best:>8}")
    big = figures.get("big")
    if big:
        print(
            f"search over {big['artists']:,} vectors fed straight in: {big['project_s']:.1f} s "
            f"(target < 900 s), {big['rows']:,} rows, peak memory {big['peak_rss_gib']:.2f} GiB"
        )


def summarize_search(search: dict, lead: str) -> None:
    ratios = [run["ratio"] for run in search["runs"]]
    middle = sorted(ratios)[len(ratios) // 2]
    print(
        f"{lead}search at {search['artists']:,} artists, --preset {search['preset']} ({search['dims']} signals): "
        f"ratio to one process with scipy's cKDTree (same leaf order, leafsize and k+2), 3 runs: "
        f"{', '.join(f'{r:.2f}' for r in ratios)} (median {middle:.2f}; target <= {SEARCH_TARGET}: "
        f"{'met' if middle <= SEARCH_TARGET else 'NOT met'}); agreement with cKDTree {search['agreement']:.6f}"
    )
    for i, run in enumerate(search["runs"], 1):
        print(
            f"{lead}  run {i}: project {run['project_s']:.2f} s (from vectors on the driver to {search['rows']:,} "
            f"rows) vs one process {run['ckdtree_s']:.2f} s (order and build {run['reference_build_s']:.2f} s, "
            f"query {run['reference_query_s']:.2f} s); driver {run['driver_s']}; tasks summed {run['tasks_s']}"
        )
    print(
        f"{lead}  for information: a default cKDTree (balanced, leafsize 16) queried in input order for k+1 "
        f"{search['ckdtree_input_query_s']:.2f} s (build {search['ckdtree_build_s']:.2f} s); the project from the "
        f"cached vectors DataFrame (collect included) {search['project_from_dataframe_s']:.2f} s"
    )


# ---------------------------------------------------------------- parts (child processes)


def run_child(args) -> int:
    options = json.loads(args.json)
    if args.child == "leaf":  # no Spark: the index alone
        print(json.dumps(part_leaf(args, **options)), flush=True)
        return 0
    spark = start(args)
    result = {
        "lake": part_lake,
        "naive": part_naive,
        "search": part_search,
        "big": part_big,
        "dims": part_dims,
        "leaf_vectors": part_leaf_vectors,
    }[args.child](spark, args, **options)
    print(json.dumps(result), flush=True)
    return 0


def start(args):
    from jobs.common.config import load_config, set_path
    from jobs.common.spark import start_spark

    config = load_config()
    set_path(config, "spark.master", f"local[{args.cores}]")
    set_path(config, 'spark.conf."spark.driver.memory"', args.driver_memory)
    return start_spark(config, f"bench-{args.child}")


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def part_lake(spark, args, lake: str, artists: int) -> dict:
    from jobs.common.lake import Lake
    from jobs.sources.synthetic import SyntheticSpec, generate

    target = Lake(spark, lake)
    if all(DT in target.snapshots(t) for t in ("artists", "top_tracks", "audio_features")):
        return {"artists": artists, "generated": False}
    started = time.perf_counter()
    for table, frame in generate(spark, SyntheticSpec(artists=artists)).items():
        target.write(frame, table, DT)
    return {"artists": artists, "generated": True, "generate_s": round(time.perf_counter() - started, 1)}


def lake_vectors(spark, lake: str, preset: str = "default"):
    """The job's own vectors of a preset (signals, normalization, metric, weights) for the lake's snapshot, as
    a cached DataFrame."""
    from jobs.common.lake import Lake
    from jobs.transform.artist_vectors import artist_vectors, vectors_frame
    from jobs.transform.signals import artist_signals, features_to_join

    setting = PRESETS[preset]
    features = setting["features"]
    source = Lake(spark, lake)
    tables = source.read_snapshot(DT, ["artists", "top_tracks", "audio_features"])
    audio = features_to_join(tables, source.column_has_values("top_tracks", DT, "audio_features"))
    status = artist_signals(tables["top_tracks"], audio, tables["artists"], features)
    made = artist_vectors(status, features, setting["normalization"], setting["metric"], setting["weights"].items())
    vectors = vectors_frame(spark, made).cache()
    vectors.count()
    return vectors


def part_naive(spark, args, lake: str) -> dict:
    from jobs.transform.naive import naive_neighbours
    from jobs.transform.neighbours import exact_neighbours

    vectors = lake_vectors(spark, lake)
    n = vectors.count()
    out = Path(lake).parent / "naive-check"

    def write(frame, name):
        frame.write.mode("overwrite").parquet(str(out / name))  # a few thousand rows: the search dominates

    project_s = min(
        timed(lambda: write(vectors.transform(exact_neighbours, FEATURES, args.k), "project")) for _ in range(REPEATS)
    )
    naive_s = timed(
        lambda: write(vectors.transform(naive_neighbours, FEATURES, args.k, partitions=4 * args.cores), "naive")
    )
    project, naive = (spark.read.parquet(str(out / name)) for name in ("project", "naive"))
    identical = project.exceptAll(naive).isEmpty() and naive.exceptAll(project).isEmpty()
    return {"artists": n, "naive_s": round(naive_s, 2), "project_s": round(project_s, 3), "identical": identical}


def part_search(spark, args, lake: str, preset: str) -> dict:
    import numpy as np
    from scipy.spatial import cKDTree

    from jobs.transform.neighbours import LEAF_SIZE, exact_neighbours, leaf_order, order_leaf_size, search_from_arrays

    features = PRESETS[preset]["features"]
    vectors = lake_vectors(spark, lake, preset)
    table = vectors.toArrow()
    ids = table.column("artist_id").combine_chunks()
    points = np.ascontiguousarray(np.column_stack([table.column(f).to_numpy() for f in features]))
    n = len(ids)

    build_s = timed(lambda: cKDTree(points))
    tree = cKDTree(points)
    input_s = timed(lambda: tree.query(points, k=args.k + 1, workers=-1))

    def reference() -> tuple[float, float]:
        """One process, same settings: leaf order, a leafsize-32 sliding-midpoint tree, k+2 for every vector."""
        started = time.perf_counter()
        members, _ = leaf_order(points, "euclidean", order_leaf_size(points.shape[1]))
        laid_out = cKDTree(
            np.ascontiguousarray(points[members]), leafsize=LEAF_SIZE, balanced_tree=False, copy_data=False
        )
        built = time.perf_counter() - started
        laid_out.query(laid_out.data, k=args.k + 2, workers=args.cores)
        return built, time.perf_counter() - started - built

    runs, holder = [], {}

    def project():
        holder["search"] = search_from_arrays(spark, ids, points, k=args.k)
        holder["rows"] = holder["search"].frame.count()  # runs every task and iterates every output row

    project()  # untimed warm-up: Python workers started and their imports done, as the reference's are
    for _ in range(REPEATS):  # the reference and the project back to back, so each ratio sees the same load
        reference_build_s, reference_query_s = reference()
        reference_s = reference_build_s + reference_query_s
        project_s = timed(project)
        search = holder["search"]
        runs.append(
            {
                "ckdtree_s": round(reference_s, 3),
                "reference_build_s": round(reference_build_s, 3),
                "reference_query_s": round(reference_query_s, 3),
                "project_s": round(project_s, 3),
                "ratio": round(project_s / reference_s, 3),
                "driver_s": {k: round(v, 3) for k, v in search.driver_seconds.items()},
                "tasks_s": {k: round(v, 3) for k, v in search.task_seconds().items()},
            }
        )
        print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    from_frame_s = timed(lambda: vectors.transform(exact_neighbours, features, args.k).count())

    # Agreement with cKDTree on a sample (cKDTree breaks ties arbitrarily; exact ties are rare here).
    rng = np.random.default_rng(0)
    sample = rng.choice(n, size=min(n, 20_000), replace=False)
    _, found = tree.query(points[sample], k=args.k + 1)
    expected = {}
    for row, neighbours in zip(sample, found):
        others = [j for j in neighbours if j != row][: args.k]
        expected[ids[int(row)].as_py()] = [ids[int(j)].as_py() for j in others]
    from pyspark.sql import functions as F

    picked = holder["search"].frame.where(F.col("artist_id").isin(list(expected)))
    got: dict = {}
    for r in picked.orderBy("artist_id", "rank").collect():
        got.setdefault(r.artist_id, []).append(r.related_id)
    agreement = sum(got.get(a) == e for a, e in expected.items()) / len(expected)
    return {
        "artists": n,
        "preset": preset,
        "dims": len(features),
        "ckdtree_build_s": round(build_s, 3),
        "ckdtree_input_query_s": round(input_s, 3),
        "runs": runs,
        "project_from_dataframe_s": round(from_frame_s, 3),
        "rows": holder["rows"],
        "agreement": agreement,
    }


def clustered_vectors(n: int, seed: int = 7, genres: int = 40, dims: int = 6):
    """Artist vectors shaped like the synthetic lake's: genre centres, artist scatter, mean of ~10 tracks."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.random((genres, dims))
    points = np.empty((n, dims))
    step = 1_000_000
    for start in range(0, n, step):
        size = min(step, n - start)
        genre = rng.integers(0, genres, size)
        points[start : start + size] = (
            centres[genre] + rng.normal(0, 0.07, (size, dims)) + rng.normal(0, 0.08 / np.sqrt(10), (size, dims))
        )
    points -= points.min(axis=0)
    points /= points.max(axis=0)
    return points


def part_big(spark, args, artists: int) -> dict:
    import numpy as np

    from jobs.sources.synthetic import spotify_ids
    from jobs.transform.neighbours import neighbours_from_arrays

    points = clustered_vectors(artists)
    ids = spotify_ids(7, 1, np.arange(artists, dtype=np.uint64))
    holder = {}

    def project():
        holder["rows"] = neighbours_from_arrays(spark, ids, points, k=args.k).count()

    project_s = timed(project)
    return {"artists": artists, "project_s": round(project_s, 1), "rows": holder["rows"]}


def part_dims(spark, args, artists: int) -> dict:
    import numpy as np
    from scipy.spatial import cKDTree

    from jobs.sources.synthetic import spotify_ids
    from jobs.transform.neighbours import neighbours_from_arrays

    ids = spotify_ids(7, 1, np.arange(artists, dtype=np.uint64))
    by_dims = {}
    for dims in range(6, 17, 2):
        points = clustered_vectors(artists, dims=dims)
        tree = cKDTree(points)
        spatial = points[tree.indices]
        ckdtree_s = timed(lambda tree=tree, spatial=spatial: tree.query(spatial, k=args.k + 1, workers=-1))
        project_s = timed(lambda points=points: neighbours_from_arrays(spark, ids, points, k=args.k).count())
        by_dims[dims] = {"project_s": round(project_s, 2), "ckdtree_s": round(ckdtree_s, 2)}
        print(json.dumps({"dims": dims, **by_dims[dims]}), file=sys.stderr, flush=True)
    return {"artists": artists, "by_dims": by_dims}


LEAF_SIGNALS = [*DEFAULT["features"], "liveness", "energy_sd", "key", "tempo_sd"]  # the first d, for d dims


def part_leaf_vectors(spark, args, lake: str, out: str) -> dict:
    """The rank-normalized vectors of LEAF_SIGNALS for the lake's snapshot, saved as a .npy file."""
    import numpy as np

    from jobs.common.lake import Lake
    from jobs.transform.artist_vectors import artist_vectors
    from jobs.transform.signals import artist_signals, features_to_join

    source = Lake(spark, lake)
    tables = source.read_snapshot(DT, ["artists", "top_tracks", "audio_features"])
    audio = features_to_join(tables, source.column_has_values("top_tracks", DT, "audio_features"))
    status = artist_signals(tables["top_tracks"], audio, tables["artists"], LEAF_SIGNALS)
    made = artist_vectors(status, LEAF_SIGNALS, "rank", "euclidean")
    np.save(out, made.points)
    return {"vectors": int(made.points.shape[0]), "signals": LEAF_SIGNALS}


def part_leaf(args, vectors: str, artists: int, sizes: list[int], dims: list[int]) -> dict:
    every_dims = dims
    import numpy as np

    from jobs.sources.synthetic import spotify_ids
    from jobs.transform.id_order import id_order_key
    from jobs.transform.neighbours import QUERY_BATCH, NeighbourIndex

    every = np.load(vectors)
    rows = np.sort(np.random.default_rng(7).choice(every.shape[0], size=min(artists, every.shape[0]), replace=False))
    n = rows.size
    key = id_order_key(spotify_ids(7, 1, np.arange(n, dtype=np.uint64)))
    by_dims = {}
    for dims in every_dims:
        points = np.ascontiguousarray(every[rows, :dims])
        row = {}
        for size in sizes:
            runs = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                index = NeighbourIndex(points, key, "euclidean", order_leafsize=size)
                for start in range(0, n, QUERY_BATCH):
                    index.query(np.arange(start, min(n, start + QUERY_BATCH)), args.k)
                runs.append(time.perf_counter() - started)
            row[str(size)] = round(sorted(runs)[len(runs) // 2], 3)
        by_dims[dims] = row
        print(json.dumps({"dims": dims, **row}), file=sys.stderr, flush=True)
    return {"artists": n, "sizes": sizes, "by_dims": by_dims, "vectors": "the lake's, rank-normalized"}


if __name__ == "__main__":
    sys.exit(main())
