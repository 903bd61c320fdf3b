"""Evaluation job: how often related artists share a genre, and what else they look like.

    python jobs/evaluate.py [--dt YYYY-MM-DD] [--compare SETTING ...] [--fit] [--report DIR]

Reads one lake snapshot whose ``artists`` have genres (the similarity job never uses them) and
scores related artists against them: genre precision@k next to a random and a genre-popularity
baseline, precision per genre, coverage, hubness, distances, the popularity gap and the share of
co-credited pairs. By default it scores what the similarity job wrote for the dt
(``related_artists``); ``--compare`` computes each named setting from the same snapshot instead.
``--fit`` learns per-feature weights on half of the artists with genres and scores the other half.
Writes ``report.html`` (plots embedded) and ``report.json`` (every figure) to ``--report``.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common.cli import base_parser, exit_status, setup_logging
from jobs.common.config import load_config, set_path
from jobs.common.errors import ConfigError
from jobs.common.lake import Lake
from jobs.common.spark import start_spark
from jobs.common.timing import stage
from jobs.settings import DEFAULT_K, EvaluateSettings, SimilaritySettings, apply_signal_settings
from jobs.similarity_steps import listening_candidates, listening_contexts, snapshot_vectors
from jobs.transform.artist_vectors import vectors_frame
from jobs.transform.evaluation import evaluate_related, genre_table, most_common_genre
from jobs.transform.neighbours import neighbours_from_arrays
from jobs.transform.signals import PRESETS, features_to_join, popularity_proxy

log = logging.getLogger("jobs.evaluate")

EPILOG = f"""\
settings to compare (--compare, repeatable; a comma-separated list of names works too):
  published       the lake's related_artists of the dt (the default when --compare is not given)
  {" | ".join(sorted(PRESETS)):<15} a preset (seed = six audio means, minmax, euclidean; fast = eight signals, zscore)
  config          the config's [similarity] settings (conf/local.toml: the default)
  FILE.toml       a [similarity] table, as written by --fit
  'key=value;...' the config's settings with these changed, e.g.
                  'features=energy,tempo,release_year;normalization=rank;weights.energy=2'

config section [evaluate]: k ({DEFAULT_K}), draws (20 random artists per query for the baseline), genres (20 shown
per genre), fit_seed (7), fit_passes (2), report ("data/evaluation").

examples:
  python jobs/evaluate.py --dt 2026-11-27                        # score what the similarity job wrote
  python jobs/evaluate.py --compare seed,config --report /tmp/eval
  python jobs/evaluate.py --compare config --fit --fit-out conf/fitted.toml
  python jobs/similarity.py --weights conf/fitted.toml           # then use the fitted weights

exit status: 0 done, 2 bad settings or a missing snapshot, 1 anything else.
"""


def parse_args(argv: Sequence[str] | None):
    parser = base_parser(__doc__.split("\n\n")[0], EPILOG, prog="python jobs/evaluate.py")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="SETTING",
        help="a setting to compute and score (see below); repeatable",
    )
    parser.add_argument("--k", type=int, help="related artists scored per artist (overrides evaluate.k)")
    parser.add_argument(
        "--fit", action="store_true", help="learn per-feature weights for the first setting compared (or the config's)"
    )
    parser.add_argument(
        "--fit-out", metavar="FILE", help="where --fit writes its [similarity] TOML (default: <report>/fitted.toml)"
    )
    parser.add_argument(
        "--report", metavar="DIR", help="folder for report.html and report.json (default: evaluate.report/<dt>)"
    )
    return parser.parse_args(argv)


def compare_specs(values: Sequence[str]) -> list[str]:
    specs = []
    for value in values:
        specs.extend(
            [value] if "=" in value or value.endswith(".toml") else [v.strip() for v in value.split(",") if v.strip()]
        )
    return specs or ["published"]


def settings_from_args(args) -> tuple[dict, EvaluateSettings]:
    """The config and the validated settings of the command line: a bad value is a ConfigError, before Spark."""
    config = load_config(args.config, args.overrides)
    if args.lake:
        set_path(config, "lake.path", args.lake)
    if args.k is not None:
        set_path(config, "evaluate.k", args.k)
    apply_signal_settings(config)
    return config, EvaluateSettings.from_config(
        config, compare_specs(args.compare), dt=args.dt, fit=args.fit, fit_out=args.fit_out, report_dir=args.report
    )


def computed(spark: SparkSession, tables: dict, settings: SimilaritySettings) -> tuple[DataFrame, DataFrame, dict]:
    """``(related, vectors, imputed)`` for ``settings`` from the snapshot's tables, as the similarity job makes them."""
    made = snapshot_vectors(tables, settings)
    related = neighbours_from_arrays(spark, made.ids, made.points, k=settings.k, metric=settings.metric).cache()
    return related, vectors_frame(spark, made).cache(), made.imputed


def describe(settings: SimilaritySettings) -> dict:
    return {key: value for key, value in settings.parameters().items() if key != "k"}


def run(spark: SparkSession, settings: EvaluateSettings) -> dict:
    """Score each compared setting on one snapshot, fit weights when asked, write the report and print it."""
    lake = Lake.from_settings(spark, settings.base)
    dt = settings.dt or lake.latest_snapshot("top_tracks")
    tables = read_tables(lake, dt)
    scored = [score_setting(spark, lake, dt, tables, label, setting, settings) for label, setting in settings.compared]
    results = [entry for entry, _, _ in scored]
    listening = held_out_listening(spark, lake, dt, tables, settings.base, settings.fit_seed, settings.fit)
    out_dir = Path(settings.report_dir or Path(settings.report) / dt)
    fitted = fit_weights_for(spark, tables, settings, dt, out_dir, listening) if settings.fit else None
    from jobs.evaluation.report import write_report

    maps = [
        artist_map(vectors, drawn.features, tables["artists"], None if entry["settings"] else "the config's vectors")
        for entry, vectors, drawn in scored
    ]
    paths = write_report(
        out_dir,
        f"Related artists, dt={dt}: genre precision@{settings.k} and more",
        results,
        maps,
        fitted,
        report_context(settings, dt, results),
        listening,
    )
    print_summary(results, listening, fitted, settings.k)
    log.info("report: %s and %s", paths["html"], paths["json"])
    return {"dt": dt, "results": results, "fit": fitted, "paths": paths, "listening": listening}


def read_tables(lake: Lake, dt: str) -> dict:
    """The snapshot's ``artists`` (with the popularity the mart gets: the artist's, its tracks' mean, or the proxy;
    for the popularity gap), ``top_tracks`` and ``audio_features`` (None when the features are on the track rows:
    no join needed). ConfigError when no artist has genres."""
    tables = {name: lake.read(name, dt) for name in ("artists", "top_tracks", "audio_features")}
    tables["audio_features"] = features_to_join(tables, lake.column_has_values("top_tracks", dt, "audio_features"))
    tables["artists"] = popularity_proxy(tables["artists"], tables["top_tracks"])[0].cache()
    if genre_table(tables["artists"]).where(F.size("genres") > 0).isEmpty():
        raise ConfigError(
            f"no artist of dt={dt} has genres: nothing to score against (a tracks-csv snapshot of the "
            "TidyTuesday layout or the 600k layout with --artists-csv has them)"
        )
    return tables


def score_setting(
    spark: SparkSession,
    lake: Lake,
    dt: str,
    tables: dict,
    label: str,
    setting: SimilaritySettings | None,
    settings: EvaluateSettings,
) -> tuple[dict, DataFrame, SimilaritySettings]:
    """``(entry, vectors, their settings)``: the figures of one compared setting (``setting`` None: the lake's
    related_artists of ``dt``, ``published``), and the vectors its map draws: its own, or for ``published`` the
    config's (``settings.base``), which the similarity job made them with."""
    with stage(log, f"evaluate {label}"):
        if setting is None:
            related = lake.read("related_artists", dt).drop("dt")
            entry = {"label": label, "settings": None, "imputed": None}
        else:
            related, vectors, imputed = computed(spark, tables, setting)
            entry = {"label": label, "settings": describe(setting), "imputed": imputed}
        entry["figures"] = evaluate_related(
            related,
            tables["artists"],
            tables["top_tracks"],
            settings.k,
            draws=settings.draws,
            top_genres=settings.genres,
        )
        if setting is None:
            setting = settings.base
            vectors = vectors_frame(spark, snapshot_vectors(tables, setting)).cache()
    return entry, vectors, setting


def fit_weights_for(
    spark: SparkSession, tables: dict, settings: EvaluateSettings, dt: str, out_dir: Path, listening: dict | None
) -> dict:
    """``--fit``: per-feature weights for the first computed setting (jobs/evaluation/fit.py), with the blend
    weight the held-out listeners fitted, written as a ``[similarity]`` TOML (``fitted["file"]``)."""
    from jobs.evaluation.fit import fit_weights

    with stage(log, "fit weights"):
        unweighted = dataclasses.replace(settings.fit_setting, weights=())
        plain, plain_ids, plain_genres = collect_vectors(
            vectors_frame(spark, snapshot_vectors(tables, unweighted, "euclidean")),
            unweighted.features,
            tables["artists"],
        )
        fitted = fit_weights(
            plain,
            plain_genres,
            plain_ids,
            unweighted.features,
            unweighted.metric,
            settings.k,
            seed=settings.fit_seed,
            passes=settings.fit_passes,
        ).__dict__
    if listening and listening.get("fit"):
        fitted["listeners_weight"] = listening["fit"]["listeners_weight"]
    path = Path(settings.fit_out) if settings.fit_out else out_dir / "fitted.toml"
    write_fitted(path, fitted, settings.fit_setting, dt, settings.k)
    fitted["file"] = str(path)
    return fitted


# The map draws at most this many artists, evenly spaced by id: enough to see the genres' shapes.
MAP_POINTS = 5000


def artist_map(
    vectors: DataFrame, features: Sequence[str], artists: DataFrame, drawn: str | None = None
) -> dict | None:
    """The 2-D PCA map (jobs/evaluation/report.py) of ``vectors``, each artist coloured by its most common genre,
    with ``drawn`` (whose vectors they are, when not the setting's own) for its title; None for fewer than two
    artists."""
    from jobs.evaluation.report import pca_projection

    points, ids, _ = collect_vectors(vectors, features, artists)
    sample = np.arange(len(ids)) if len(ids) <= MAP_POINTS else np.linspace(0, len(ids) - 1, MAP_POINTS).astype(int)
    top_genre = most_genre_labels(vectors, artists, [ids[i] for i in sample])
    if len(ids) < 2:
        return None
    return {**pca_projection(points[sample], top_genre), **({"drawn": drawn} if drawn else {})}


def report_context(settings: EvaluateSettings, dt: str, results: Sequence[dict]) -> dict:
    """The report's list of what was evaluated."""
    context = {
        "lake": settings.base.lake,
        "dt": dt,
        "k": settings.k,
        "artists with genres": results[0]["figures"]["genre_queries"],
    }
    if any(setting is None for _, setting in settings.compared):
        context["published: its map draws the config's vectors"] = str(describe(settings.base))
    if settings.fit:
        context["fit setting"] = str(describe(settings.fit_setting))
    return context


def print_summary(results: Sequence[dict], listening: dict | None, fitted: dict | None, k: int) -> None:
    """The comparison table, the held-out listeners and the fitted weights, on stdout."""
    from jobs.evaluation.report import comparison_rows, rows_table, text_table

    print(text_table(comparison_rows(results)))
    if listening:
        from jobs.evaluation.held_out import held_out_rows

        print(
            f"held-out listeners (truth: each artist's 10 most co-listened in the held-out half; blend weight "
            f"{listening['weight']:g}):"
        )
        print(rows_table(held_out_rows(listening)))
    if fitted:
        print(f"fitted weights ({fitted['file']}): " + ", ".join(f"{n} {w:g}" for n, w in fitted["weights"].items()))
        print(
            f"precision@{k}: fitted part {fitted['fitted']:.3f} ({fitted['fitted_artists']} artists; all weights 1: "
            f"{fitted['base_fitted']:.3f}); held-out part {fitted['held_out']:.3f} ({fitted['held_out_artists']} "
            f"artists; all weights 1: {fitted['base_held_out']:.3f})"
        )


def held_out_listening(
    spark: SparkSession, lake: Lake, dt: str, tables: dict, settings: SimilaritySettings, seed: int, fit: bool
) -> dict | None:
    """The held-out-listener figures (jobs/evaluation/held_out.py) of ``settings`` when the snapshot has
    listening data, else None."""
    contexts = listening_contexts(lake, dt)
    if contexts is None:
        return None
    from jobs.evaluation.held_out import SHOWN, Candidates, evaluate_held_out

    vectors = snapshot_vectors(tables, settings)
    m = max(settings.k, settings.candidates, SHOWN)
    sound = neighbours_from_arrays(spark, vectors.ids, vectors.points, k=m, metric=settings.metric).cache()

    def candidates_for(build: DataFrame) -> Candidates:
        listened = listening_candidates(spark, build, vectors, settings, m).cache()
        return Candidates(sound, listened, k=SHOWN, m=m)

    weight = settings.listeners_weight or PRESETS["default"]["listeners_weight"]
    with stage(log, "held-out listeners"):
        return evaluate_held_out(
            spark,
            candidates_for,
            contexts.cache(),
            vectors.ids,
            tables["artists"],
            tables["top_tracks"],
            weight,
            seed,
            settings.co_listening,
            fit,
        )


def collect_vectors(vectors: DataFrame, features: Sequence[str], artists: DataFrame):
    """``(points, ids, genre sets)`` on the driver, ordered by artist_id."""
    table = (
        vectors.join(genre_table(artists).select("artist_id", "genres"), "artist_id", "left")
        .orderBy("artist_id")
        .toArrow()
    )
    points = (
        np.column_stack([table.column(f).to_numpy() for f in features])
        if table.num_rows
        else np.empty((0, len(features)))
    )
    ids = table.column("artist_id").to_pylist()
    genres = [frozenset(g or ()) for g in table.column("genres").to_pylist()]
    return points, ids, genres


def most_genre_labels(vectors: DataFrame, artists: DataFrame, ids: Sequence[str]) -> list[str | None]:
    best = {r.artist_id: r.genre for r in most_common_genre(artists, vectors.select("artist_id")).collect()}
    return [best.get(i) for i in ids]


def write_fitted(path: Path, fitted: dict, settings: SimilaritySettings, dt: str, k: int) -> None:
    """A ``[similarity]`` TOML file the similarity job reads with ``--weights``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    features = ", ".join(f'"{f}"' for f in settings.features)
    weights = ", ".join(f"{f} = {w!r}" for f, w in fitted["weights"].items())
    path.write_text(
        f"# Weights fitted by jobs/evaluate.py --fit on dt={dt} (split seed {fitted['seed']}): genre precision@{k}\n"
        f"# fitted part {fitted['fitted']:.4f} ({fitted['fitted_artists']} artists; all weights 1: "
        f"{fitted['base_fitted']:.4f}), held-out part {fitted['held_out']:.4f} ({fitted['held_out_artists']} "
        f"artists; all weights 1: {fitted['base_held_out']:.4f}).\n"
        f"# Use: python jobs/similarity.py --weights {path}\n"
        f'[similarity]\nfeatures = [{features}]\nnormalization = "{settings.normalization}"\n'
        f'metric = "{settings.metric}"\nshared_tracks = "{settings.shared_tracks}"\nweights = {{ {weights} }}\n'
        + (f"listeners_weight = {fitted['listeners_weight']!r}\n" if "listeners_weight" in fitted else ""),
        encoding="utf-8",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)

    def job() -> None:
        config, settings = settings_from_args(args)
        run(start_spark(config, "evaluate"), settings)

    return exit_status(job, log)


if __name__ == "__main__":
    sys.exit(main())
