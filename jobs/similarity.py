"""Similarity job: one lake snapshot in, each artist's k nearest artists out.

    python jobs/similarity.py [--config conf/local.toml] [--dt YYYY-MM-DD] [options]
    spark-submit [--packages ...] jobs/similarity.py [options]

Reads ``artists`` and ``top_tracks`` for one dt (and ``audio_features`` for a
snapshot written before the features were stored on the track rows), builds one
vector per artist (its signals: audio feature means and spreads over its top
tracks, artist metadata; imputed where missing, normalized over all artists,
weighted: Spark sums per artist, the driver does the rest), finds each artist's
exact k nearest other artists, blends them with the artists most listened to together where the
snapshot has listening data (``artist_contexts``; ``similarity.listeners_weight``, 0 for sound alone),
replaces that dt of the lake table ``related_artists`` (each row with its reason: sound, listeners or
both), and publishes artists (popularity from a proxy where the
source has none), top tracks and related artists to the mart (``[mart]``;
SQLite by default).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common.cli import base_parser, exit_status, setup_logging
from jobs.common.config import load_config, set_path
from jobs.common.errors import SnapshotError
from jobs.common.lake import Lake
from jobs.common.spark import start_spark
from jobs.common.timing import stage
from jobs.publish.mart import Mart
from jobs.publish.settings import PublishSettings
from jobs.publish.snapshot import publish_computed
from jobs.settings import DEFAULT_K, SimilaritySettings, apply_signal_settings
from jobs.similarity_steps import listening_candidates, listening_contexts, snapshot_vectors
from jobs.transform.artist_vectors import ArtistVectors
from jobs.transform.blend import blend, sound_only
from jobs.transform.metrics import METRICS
from jobs.transform.neighbours import neighbours_from_arrays
from jobs.transform.signals import METADATA, PRESETS, SHARED_TRACKS, SPREAD, features_to_join, popularity_proxy
from jobs.transform.vectors import AUDIO_FEATURE_NAMES, NORMALIZATIONS

log = logging.getLogger("jobs.similarity")

EPILOG = f"""\
settings (config section [similarity], or the flags above; conf/local.toml holds the default):
  features       the signals of an artist's vector: any audio feature, averaged over its top tracks
                 ({", ".join(AUDIO_FEATURE_NAMES)}), its spread <feature>{SPREAD} (e.g. energy{SPREAD}),
                 and artist metadata ({", ".join(METADATA)})
  normalization  {" | ".join(NORMALIZATIONS)}: per feature over all artists (minmax to 0..1, rank to its quantile)
  metric         {" | ".join(METRICS)}
  weights        per-feature weights, e.g. --set 'similarity.weights={{energy = 2.0}}' (default 1 each),
                 folded into the vectors before the exact search
  shared_tracks  {" | ".join(SHARED_TRACKS)}: a track credited to several artists counts fully for each, or 1/credits
  weights_file   a TOML file with a [similarity] table (as written by jobs/evaluate.py --fit): its features,
                 normalization, metric, weights and shared_tracks replace the config's
  k              related artists per artist (default {DEFAULT_K})
  listeners_weight  the blend with listening data (the lake's artist_contexts): 0 = sound alone, 1 = the artists
                 listened to together first; artists with too little listening data keep sound alone.
                 [listeners]: top_n, min_support, min_contexts, shrinkage, chat_min_users, chat_cap, candidates
  presets        --preset {" | ".join(sorted(PRESETS))}: seed = the first setting (six audio means, minmax,
                 euclidean, sound alone), sound = the default's signals without listening data, fast = eight
                 signals, zscore (a faster search, less genre precision)
  mart.*         where and how to publish: see python jobs/publish_mart.py --help

examples:
  python jobs/similarity.py                                  # latest snapshot in conf/local.toml's lake
  python jobs/similarity.py --dt 2026-11-27 --metric cosine --k 5
  python jobs/similarity.py --preset seed                    # the first setting, exactly as it was
  python jobs/similarity.py --preset sound                   # sound alone, listening data left out
  python jobs/similarity.py --weights fitted.toml            # weights learned by jobs/evaluate.py --fit
  python jobs/similarity.py --mart jdbc:mysql://127.0.0.1:3306/mart --set mart.user=batch   # MART_PASSWORD
  spark-submit jobs/similarity.py --config conf/emr.toml --dt 2026-11-27

exit status: 0 done, 2 bad settings, missing/empty/unfinished snapshot, unreachable mart, another publish
running, publish refused by the drop guard, failing its checks or a publish step failing (the live mart
is then unchanged unless the message says the new set IS live), 1 anything else.
"""


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
    parser = base_parser(__doc__.split("\n\n")[0], EPILOG, prog="python jobs/similarity.py")
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="a named setting (features, normalization, metric, weights, listeners_weight); flags below still apply",
    )
    parser.add_argument(
        "--weights",
        metavar="FILE",
        help="a [similarity] TOML written by jobs/evaluate.py --fit (overrides similarity.weights_file)",
    )
    parser.add_argument("--features", help="comma-separated signals (overrides similarity.features)")
    parser.add_argument("--normalization", choices=NORMALIZATIONS, help="overrides similarity.normalization")
    parser.add_argument("--metric", choices=METRICS, help="overrides similarity.metric")
    parser.add_argument("--k", type=int, help="related artists per artist (overrides similarity.k)")
    parser.add_argument("--tasks", type=int, help="Spark tasks for the neighbour search (default: a few per core)")
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
    if args.weights:
        set_path(config, "similarity.weights_file", args.weights)
    apply_signal_settings(config, PRESETS[args.preset] if args.preset else None)
    flags = {
        "dt": args.dt,
        "normalization": args.normalization,
        "metric": args.metric,
        "k": args.k,
        "tasks": args.tasks,
        "show": args.show,
        "features": [f.strip() for f in args.features.split(",") if f.strip()] if args.features else None,
    }
    for key, value in flags.items():
        if value is not None:
            set_path(config, f"similarity.{key}", value)
    return config, SimilaritySettings.from_config(config)


def run(
    spark: SparkSession, settings: SimilaritySettings, publish: PublishSettings | None = None, force: bool = False
) -> SimilarityResult:
    """Compute and store ``related_artists`` for one snapshot, then publish it when ``publish`` says so."""
    # Connect first: a wrong mart URL or password fails before minutes of work.
    mart = Mart(spark, publish) if publish is not None and publish.publish else None
    try:
        return _run(spark, settings, mart, force)
    finally:
        if mart is not None:
            mart.close()


def _run(spark: SparkSession, settings: SimilaritySettings, mart: Mart | None, force: bool) -> SimilarityResult:
    lake = Lake.from_settings(spark, settings)
    dt = settings.dt or lake.latest_snapshot("top_tracks")
    log_settings(dt, settings)
    with stage(log, "read snapshot"):
        tables = read_snapshot(lake, dt)
    with stage(log, "artist vectors"):
        vectors = snapshot_vectors(tables, settings)
    counts = check_coverage(vectors, dt, settings.features)
    contexts = listening_contexts(lake, dt) if settings.listeners_weight else None
    with stage(log, "neighbour search and write"):
        related = related_artists(spark, vectors, contexts, settings)
        written = lake.write(related, "related_artists", dt)
    log.info("related_artists for dt=%s: %d rows for %d artists", dt, written, counts["with_vector"])
    if mart is not None:
        with stage(log, "publish to the mart"):
            publish_related(mart, lake, dt, tables, settings, counts["with_vector"], force)
    if settings.show and written:
        show_related(lake, dt, settings.show)
    total = counts["with_vector"] + counts["no_top_tracks"] + counts["no_features"]
    return SimilarityResult(dt=dt, artists=total, related_rows=written, **counts)


def log_settings(dt: str, settings: SimilaritySettings) -> None:
    log.info(
        "similarity for dt=%s: features %s, %s normalization, %s metric, k=%d%s%s",
        dt,
        ",".join(settings.features),
        settings.normalization,
        settings.metric,
        settings.k,
        f", weights {dict(settings.weights)}" if settings.weights else "",
        ", shared tracks split by credits" if settings.shared_tracks == "split" else "",
    )


def read_snapshot(lake: Lake, dt: str) -> dict[str, DataFrame | None]:
    """The snapshot's ``artists``, ``top_tracks`` and ``audio_features``: None for snapshots written since the
    features are stored on the track rows, which need no join with it."""
    tables = lake.read_snapshot(dt, ["artists", "top_tracks", "audio_features"])
    tables["audio_features"] = features_to_join(tables, lake.column_has_values("top_tracks", dt, "audio_features"))
    return tables


def check_coverage(vectors: ArtistVectors, dt: str, features) -> dict[str, int]:
    """Log how many artists have a vector (and what was imputed); SnapshotError when none has. Returns the counts."""
    counts = vectors.coverage
    total = counts["with_vector"] + counts["no_top_tracks"] + counts["no_features"]
    log.info(
        "%d artists in the snapshot, %d with a vector; dropped %d: %d without top tracks, "
        "%d without a track with complete audio features",
        total,
        counts["with_vector"],
        counts["no_top_tracks"] + counts["no_features"],
        counts["no_top_tracks"],
        counts["no_features"],
    )
    if counts["unknown_artists"]:
        log.warning("%d artists have top tracks but no row in the artists table: ignored", counts["unknown_artists"])
    if counts["with_vector"] == 0:
        raise SnapshotError(
            f"no artist of dt={dt} has a top track with complete audio features "
            f"({', '.join(features)}): nothing to compare"
        )
    if vectors.imputed:
        log.info(
            "imputed (missing values replaced by the mean over the artists that have them): %s",
            ", ".join(f"{name} {count} of {counts['with_vector']}" for name, count in vectors.imputed.items()),
        )
    return counts


def publish_related(
    mart: Mart, lake: Lake, dt: str, tables: dict, settings: SimilaritySettings, with_vector: int, force: bool
) -> None:
    """Publish the snapshot with the related artists just written; artists' popularity as the mart gets it
    (the source's, its tracks' mean, or a proxy), recorded in ``publish_log.parameters``."""
    served, sources = popularity_proxy(tables["artists"], tables["top_tracks"])
    parameters = settings.parameters()
    if sources.get("tracks") or sources.get("proxy"):
        parameters["popularity"] = {
            "from_artists": sources.get("artists", 0),
            "mean_track_popularity": sources.get("tracks", 0),
            "proxy": sources.get("proxy", 0),
            "proxy_formula": "round(100 * (quantile of top-track count + quantile of latest release year) / 2)",
        }
        log.info(
            "popularity in the mart: %d artists from the source, %d from their tracks' mean popularity, "
            "%d from a proxy (track count and recency); publish_log.parameters says so",
            sources.get("artists", 0),
            sources.get("tracks", 0),
            sources.get("proxy", 0),
        )
    publish_computed(
        mart,
        lake,
        dt,
        artists=served,
        top_tracks=tables["top_tracks"],
        force=force,
        artists_with_vector=with_vector,
        k=settings.k,
        parameters=parameters,
    )


def related_artists(
    spark: SparkSession, vectors: ArtistVectors, contexts: DataFrame | None, settings: SimilaritySettings
) -> DataFrame:
    """Each artist's ``k`` related artists with their reason: by sound alone without ``contexts``, else the
    blend of sound and listening candidates (jobs/transform/blend.py)."""
    if contexts is None:
        sound = neighbours_from_arrays(
            spark, vectors.ids, vectors.points, k=settings.k, metric=settings.metric, tasks=settings.tasks
        )
        return sound_only(sound, settings.k)
    m = max(settings.k, settings.candidates)
    sound = neighbours_from_arrays(
        spark, vectors.ids, vectors.points, k=m, metric=settings.metric, tasks=settings.tasks
    )
    with stage(log, "listened together"):
        listened = listening_candidates(spark, contexts, vectors, settings, m)
        covered = listened.select("artist_id").distinct().count()
    log.info(
        "related artists: %d of %d artists blend listening data (weight %.2f) with sound, %d by sound alone "
        "(fewer than %d contexts, or no pair with %d shared)",
        covered,
        len(vectors.ids),
        settings.listeners_weight,
        len(vectors.ids) - covered,
        settings.co_listening.min_contexts,
        settings.co_listening.min_support,
    )
    return blend(sound, listened, settings.k, m, settings.listeners_weight)


def show_related(lake: Lake, dt: str, limit: int) -> None:
    """Print ``limit`` artists (most popular first) with their related artists' names."""
    rows = related_names(lake.read("artists", dt), lake.read("related_artists", dt), limit).collect()
    for row in rows:
        print(f"{row.name}  ->  " + ", ".join(f"{name} ({dist:.3f})" for name, dist in row.related))


def related_names(artists: DataFrame, related: DataFrame, limit: int) -> DataFrame:
    """``name, related`` (list of ``(name, distance)`` by rank) for the ``limit`` most popular artists."""
    names = artists.select("artist_id", "name", "popularity").dropDuplicates(["artist_id"])
    top = names.orderBy(F.col("popularity").desc_nulls_last(), "artist_id").limit(limit)
    pairs = related.join(top.select("artist_id"), "artist_id").join(
        names.select(F.col("artist_id").alias("related_id"), F.col("name").alias("related_name")), "related_id"
    )
    grouped = pairs.groupBy("artist_id").agg(
        F.array_sort(F.collect_list(F.struct("rank", "related_name", "distance"))).alias("ranked")
    )
    return (
        top.join(grouped, "artist_id")
        .orderBy(F.col("popularity").desc_nulls_last(), "artist_id")
        .select("name", F.transform("ranked", lambda r: F.struct(r.related_name, r.distance)).alias("related"))
    )


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
