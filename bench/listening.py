"""Listening benchmark: the blend of listening data with sound, on real data and at scale.

    python -m bench.listening real --artist-table data_w_genres.csv --hetrec hetrec/   # quality
    python -m bench.listening scale --artists 1000000 --rows 1000000,5000000,10000000  # time

``real`` ingests a real public catalogue with audio features and genres (``data_w_genres.csv``, as
bench/quality.py --artist-table does) with a real public listening table matched to it by name
(Last.fm HetRec 2011, ``--listens-layout hetrec``), then runs jobs/evaluate.py --fit on that one
snapshot: held-out-listener precision@3 and recall@10 of sound, listeners and the blend, the
baselines, and genre precision@3 over the artists with listening data and without. Neither file is
part of the repository: the README names where the figures' copies came from.

``scale`` times the collaborative part of the similarity job (read the contexts, number the artists,
cap each context, count pairs, score and rank them, collect them with their sound distances) on
synthetic contexts with a long tail, for each row count, at one artist count, and prints the pairs
the capped contexts make next to artists squared.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from bench.quality import run
from shared.version import program_parser

REPO = Path(__file__).resolve().parents[1]
DT = "2026-01-01"


def real(args) -> int:
    from bench.quality import artist_table_to_600k

    work = Path(args.workdir or tempfile.mkdtemp(prefix="listening-bench-"))
    lake, report = work / "lake", work / "report"
    spark = ["--set", f"spark.master=local[{args.cores}]"]
    tracks, artists, counts = artist_table_to_600k(Path(args.artist_table), work / "artist_table")
    print(f"artist table as tracks: {counts}", flush=True)
    ingest_s = 0.0
    if not (lake / "artist_contexts").exists() or not args.reuse:
        ingest_s = run(
            [
                sys.executable,
                "jobs/ingest.py",
                "--source",
                "tracks-csv",
                "--tracks",
                str(tracks),
                "--artists-csv",
                str(artists),
                "--listens",
                args.hetrec,
                "--listens-layout",
                "hetrec",
                "--lake",
                str(lake),
                "--dt",
                DT,
                *spark,
            ]
        )
    settings = [flag for value in args.set for flag in ("--set", value)]
    evaluate_s = run(
        [
            sys.executable,
            "jobs/evaluate.py",
            "--lake",
            str(lake),
            "--dt",
            DT,
            "--compare",
            "config",
            "--fit",
            "--report",
            str(report),
            *spark,
            *settings,
        ]
    )
    saved = json.loads((report / "report.json").read_text())
    listening = saved["listening"]
    fit = listening["fit"]
    print("\n# summary (held-out listeners: truth = each artist's 10 most co-listened in the held-out half)")
    print(
        f"contexts: {listening['build_contexts']} build, {listening['held_out_contexts']} held out; artists with a "
        f"truth: {listening['truth_artists']}; blend weight {listening['weight']:g}"
    )
    for group, settings in listening["groups"].items():
        sound = settings["sound"]["precision@3"]
        line = ", ".join(
            f"{name} {values['precision@3']:.3f}/{values['recall@10']:.3f}"
            for name, values in settings.items()
            if values["precision@3"] is not None
        )
        ratio = f"; blend / sound precision@3 {settings['blend']['precision@3'] / sound:.2f}x" if sound else ""
        print(f"{group} ({settings['sound']['queries']} queries), precision@3/recall@10: {line}{ratio}")
    for group, genre in listening.get("genre_precision", {}).items():
        sound, blend = genre["sound"]["precision"], genre["blend"]["precision"]
        print(
            f"genre precision@3, {group} ({genre['sound']['queries']} queries): sound {sound:.3f}, blend "
            f"{blend:.3f} -> {blend / sound if sound else float('nan'):.2f}x"
        )
    print(
        f"fitted blend weight {fit['listeners_weight']:g}: precision@3 {fit['fitted']:.3f} on the fitted half "
        f"({fit['fitted_artists']} artists), {fit['held_out']:.3f} on the other ({fit['held_out_artists']}; sound "
        f"alone {fit['sound_held_out']:.3f}); ingest {ingest_s:.0f} s, evaluate {evaluate_s:.0f} s; "
        f"report {report / 'report.html'}"
    )
    return 0


def catalogue_ids(spark, artists: int):
    """The ids of the synthetic catalogue of ``artists`` artists (seed 7), sorted, as the job's vectors hold them."""
    from jobs.sources.synthetic import SyntheticSpec, generate

    frames = generate(spark, SyntheticSpec(artists=artists, seed=7, contexts=0))
    return frames["artists"].select("artist_id").orderBy("artist_id").toArrow().column("artist_id").combine_chunks()


def scale(args) -> int:
    import numpy as np

    from jobs.common.config import load_config, set_path
    from jobs.common.spark import start_spark
    from jobs.settings import SimilaritySettings
    from jobs.sources.synthetic import synthetic_contexts
    from jobs.transform.listeners import listened_candidates

    config = load_config()
    set_path(config, "spark.master", f"local[{args.cores}]")
    spark = start_spark(config, "listening-bench")
    settings = SimilaritySettings.from_config(config)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="listening-scale-"))
    ids = catalogue_ids(spark, args.artists)
    points = np.random.default_rng(7).random((len(ids), 12))  # the search's vectors: only their distances are used
    print(
        f"# collaborative part at {args.artists:,} artists (top_n {settings.co_listening.top_n}, "
        f"{args.cores} cores); artists squared {args.artists**2:.2e}"
    )
    for rows in [int(r) for r in args.rows.split(",")]:
        path = str(work / f"contexts-{rows}.parquet")
        synthetic_contexts(spark, args.artists, rows, genres=40, seed=7).write.mode("overwrite").parquet(path)
        contexts = spark.read.parquet(path)
        started = time.perf_counter()
        listened = listened_candidates(
            spark, contexts, ids, points, "euclidean", settings.candidates, settings.co_listening
        )
        pairs = listened.count()
        seconds = time.perf_counter() - started
        sizes = contexts.groupBy("context_id").count().toPandas()["count"].clip(upper=settings.co_listening.top_n)
        made = int((sizes * (sizes - 1) // 2).sum())
        print(
            f"{rows:>11,} rows, {len(sizes):,} contexts, {len(ids):,} artists in the catalogue: {seconds:6.1f} s; pairs "
            f"from the capped contexts {made:.2e} ({made / args.artists**2:.1e} of artists squared); "
            f"{pairs:,} ranked rows",
            flush=True,
        )
    return 0


def main() -> int:
    parser = program_parser("python -m bench.listening", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    quality = commands.add_parser("real", help="held-out listeners and genres on real public data")
    quality.add_argument("--artist-table", required=True, help="data_w_genres.csv (one row per artist)")
    quality.add_argument("--hetrec", required=True, help="the folder of HetRec's user_artists.dat and artists.dat")
    quality.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config setting for the evaluation, e.g. 'listeners.method=\"als\"'",
    )
    quality.add_argument("--reuse", action="store_true", help="keep the workdir's lake when it has one")
    timing = commands.add_parser("scale", help="the collaborative part's time on synthetic contexts")
    timing.add_argument("--artists", type=int, default=1_000_000)
    timing.add_argument("--rows", default="1000000,5000000,10000000", help="comma-separated row counts")
    for sub in (quality, timing):
        sub.add_argument("--cores", type=int, default=2)
        sub.add_argument("--workdir", help="lake, files and report (default: a temporary folder)")
    args = parser.parse_args()
    return real(args) if args.command == "real" else scale(args)


if __name__ == "__main__":
    sys.exit(main())
