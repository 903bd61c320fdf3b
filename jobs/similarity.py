"""Similarity job: one lake snapshot in, each artist's k nearest artists out.

    python jobs/similarity.py [--config conf/local.toml] [--dt YYYY-MM-DD] [options]
    spark-submit [--packages ...] jobs/similarity.py [options]

Reads ``artists``, ``top_tracks`` and ``audio_features`` for one dt, builds one
vector per artist (mean of the chosen audio features over its top tracks,
normalized over all artists), finds each artist's exact k nearest other
artists, replaces that dt of the lake table ``related_artists``, and publishes
artists, top tracks and related artists to the mart (``[mart]``; SQLite by default).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common.cli import base_parser, exit_status, setup_logging
from jobs.common.config import ConfigError, load_config, section, set_path
from jobs.common.lake import Lake, SnapshotError, parse_dt
from jobs.common.spark import start_spark
from jobs.common.timing import stage
from jobs.publish.mart import Mart, PublishSettings
from jobs.publish.snapshot import publish_snapshot
from jobs.transform.metrics import METRICS, check_metric
from jobs.transform.neighbours import exact_neighbours
from jobs.transform.vectors import (AUDIO_FEATURE_NAMES, DEFAULT_FEATURES, NORMALIZATIONS, artist_feature_stats,
                                    attach_artists, check_features, check_normalization, coverage,
                                    metric_vectors)

log = logging.getLogger("jobs.similarity")

EPILOG = f"""\
settings (config section [similarity], or the flags above):
  features       audio features averaged per artist, from: {", ".join(AUDIO_FEATURE_NAMES)}
                 (default: {", ".join(DEFAULT_FEATURES)})
  normalization  {" | ".join(NORMALIZATIONS)}: per feature over all artists (default minmax, to 0..1)
  metric         {" | ".join(METRICS)} (default euclidean)
  k              related artists per artist (default 3)
  mart.*         where and how to publish: see python jobs/publish_mart.py --help

examples:
  python jobs/similarity.py                                  # latest snapshot in conf/local.toml's lake
  python jobs/similarity.py --dt 2026-11-27 --metric cosine --k 5
  python jobs/similarity.py --mart jdbc:mysql://127.0.0.1:3306/mart --set mart.user=batch   # MART_PASSWORD
  spark-submit jobs/similarity.py --config conf/emr.toml --dt 2026-11-27

exit status: 0 done, 2 bad settings, missing/empty/unfinished snapshot, unreachable mart, another publish
running, publish refused by the drop guard, failing its checks or a publish step failing (the live mart
is then unchanged unless the message says the new set IS live), 1 anything else.
"""


@dataclass(frozen=True)
class SimilaritySettings:
    lake: str
    dt: str | None
    features: tuple[str, ...]
    normalization: str
    metric: str
    k: int
    tasks: int | None
    show: int

    @classmethod
    def from_config(cls, config: Mapping) -> "SimilaritySettings":
        """Validated settings from the ``[lake]`` and ``[similarity]`` sections."""
        lake = section(config, "lake")
        sim = section(config, "similarity")
        try:
            k = int(sim.get("k", 3))
            if k < 1:
                raise ValueError(f"k must be at least 1, got {k}")
            tasks = sim.get("tasks")
            dt = sim.get("dt")
            return cls(
                lake=str(lake.get("path", "")),
                dt=parse_dt(str(dt)) if dt else None,
                features=check_features(sim.get("features", DEFAULT_FEATURES)),
                normalization=check_normalization(sim.get("normalization", "minmax")),
                metric=check_metric(sim.get("metric", "euclidean")),
                k=k,
                tasks=int(tasks) if tasks else None,
                show=int(sim.get("show", 0)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"similarity settings: {exc}") from None


@dataclass(frozen=True)
class SimilarityResult:
    dt: str
    artists: int
    with_vector: int
    no_top_tracks: int
    no_features: int
    unknown_artists: int
    related_rows: int


def parse_args(argv: Sequence[str] | None):
    parser = base_parser(__doc__.split("\n\n")[0], EPILOG)
    parser.add_argument("--features", help="comma-separated audio features (overrides similarity.features)")
    parser.add_argument("--normalization", choices=NORMALIZATIONS, help="overrides similarity.normalization")
    parser.add_argument("--metric", choices=METRICS, help="overrides similarity.metric")
    parser.add_argument("--k", type=int, help="related artists per artist (overrides similarity.k)")
    parser.add_argument("--tasks", type=int, help="Spark tasks for the neighbour search "
                                                  "(default: a few per core)")
    parser.add_argument("--show", type=int, metavar="N", help="print N artists and their related artists at the end")
    parser.add_argument("--mart", metavar="JDBC_URL", help="mart to publish to (overrides mart.url)")
    parser.add_argument("--no-publish", action="store_true", help="stop after the lake: do not publish to the mart")
    parser.add_argument("--force", action="store_true", help="publish even when the mart's drop guard refuses")
    return parser.parse_args(argv)


def settings_from_args(args) -> tuple[dict, SimilaritySettings]:
    config = load_config(args.config, args.overrides)
    if args.lake:
        set_path(config, "lake.path", args.lake)
    if args.mart:
        set_path(config, "mart.url", args.mart)
    if args.no_publish:
        set_path(config, "mart.publish", False)
    flags = {"dt": args.dt, "normalization": args.normalization, "metric": args.metric, "k": args.k,
             "tasks": args.tasks, "show": args.show,
             "features": [f.strip() for f in args.features.split(",") if f.strip()] if args.features else None}
    for key, value in flags.items():
        if value is not None:
            set_path(config, f"similarity.{key}", value)
    return config, SimilaritySettings.from_config(config)


def run(spark: SparkSession, settings: SimilaritySettings, publish: PublishSettings | None = None,
        force: bool = False) -> SimilarityResult:
    """Compute and store ``related_artists`` for one snapshot, then publish it when ``publish`` says so."""
    # Connect first: a wrong mart URL or password fails before minutes of work.
    mart = Mart(spark, publish) if publish is not None and publish.publish else None
    try:
        return _run(spark, settings, mart, force)
    finally:
        if mart is not None:
            mart.close()


def _run(spark: SparkSession, settings: SimilaritySettings, mart: Mart | None, force: bool) -> SimilarityResult:
    lake = Lake(spark, settings.lake)
    dt = settings.dt or lake.latest_snapshot("top_tracks")
    log.info("similarity for dt=%s: features %s, %s normalization, %s metric, k=%d",
             dt, ",".join(settings.features), settings.normalization, settings.metric, settings.k)
    with stage(log, "read snapshot"):
        artists = lake.read("artists", dt)
        top_tracks = lake.read("top_tracks", dt)
        audio_features = lake.read("audio_features", dt)

    status = (top_tracks.transform(artist_feature_stats, audio_features, settings.features)
              .transform(attach_artists, artists).cache())
    try:
        with stage(log, "artist vectors"):
            counts = status.transform(coverage).first().asDict()
            total = counts["with_vector"] + counts["no_top_tracks"] + counts["no_features"]
            log.info("%d artists in the snapshot, %d with a vector; dropped %d: %d without top tracks, "
                     "%d without a track with complete audio features",
                     total, counts["with_vector"], counts["no_top_tracks"] + counts["no_features"],
                     counts["no_top_tracks"], counts["no_features"])
            if counts["unknown_artists"]:
                log.warning("%d artists have top tracks but no row in the artists table: ignored",
                            counts["unknown_artists"])
            if counts["with_vector"] == 0:
                raise SnapshotError(f"no artist of dt={dt} has a top track with complete audio features "
                                    f"({', '.join(settings.features)}): nothing to compare")
            vectors = status.transform(metric_vectors, settings.features, settings.normalization, settings.metric)

        with stage(log, "neighbour search and write"):
            related = vectors.transform(exact_neighbours, settings.features, settings.k, settings.metric,
                                        settings.tasks)
            written = lake.write(related, "related_artists", dt)
    finally:
        status.unpersist()
    log.info("related_artists for dt=%s: %d rows for %d artists", dt, written, counts["with_vector"])
    if mart is not None:
        with stage(log, "publish to the mart"):
            publish_snapshot(mart, lake, dt, artists=artists, top_tracks=top_tracks, force=force,
                             artists_with_vector=counts["with_vector"], k=settings.k,
                             parameters={"features": list(settings.features), "k": settings.k,
                                         "metric": settings.metric, "normalization": settings.normalization})
    if settings.show and written:
        show_related(lake, dt, settings.show)
    return SimilarityResult(dt=dt, artists=total, related_rows=written, **counts)


def show_related(lake: Lake, dt: str, limit: int) -> None:
    """Print ``limit`` artists (most popular first) with their related artists' names."""
    rows = related_names(lake.read("artists", dt), lake.read("related_artists", dt), limit).collect()
    for row in rows:
        print(f"{row.name}  ->  " + ", ".join(f"{name} ({dist:.3f})" for name, dist in row.related))


def related_names(artists: DataFrame, related: DataFrame, limit: int) -> DataFrame:
    """``name, related`` (list of ``(name, distance)`` by rank) for the ``limit`` most popular artists."""
    names = artists.select("artist_id", "name", "popularity").dropDuplicates(["artist_id"])
    top = names.orderBy(F.col("popularity").desc_nulls_last(), "artist_id").limit(limit)
    pairs = (related.join(top.select("artist_id"), "artist_id")
             .join(names.select(F.col("artist_id").alias("related_id"), F.col("name").alias("related_name")),
                   "related_id"))
    grouped = pairs.groupBy("artist_id").agg(
        F.array_sort(F.collect_list(F.struct("rank", "related_name", "distance"))).alias("ranked"))
    return (top.join(grouped, "artist_id")
            .orderBy(F.col("popularity").desc_nulls_last(), "artist_id")
            .select("name", F.transform("ranked", lambda r: F.struct(r.related_name, r.distance)).alias("related")))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)

    def job() -> None:
        config, settings = settings_from_args(args)
        publish = PublishSettings.from_config(config)
        run(start_spark(config, "similarity"), settings, publish if publish.publish else None, force=args.force)

    return exit_status(job, log)


if __name__ == "__main__":
    sys.exit(main())
