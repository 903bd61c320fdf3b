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
from pathlib import Path
from typing import Sequence

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import similarity
from jobs.common.cli import base_parser, exit_status, setup_logging
from jobs.common.config import load_config, section, set_path
from jobs.common.errors import ConfigError
from jobs.common.lake import Lake
from jobs.common.spark import start_spark
from jobs.common.timing import stage
from jobs.settings import SimilaritySettings
from jobs.transform.evaluation import evaluate_related, genre_table, most_common_genre
from jobs.transform.artist_vectors import ArtistVectors, artist_vectors, vectors_frame
from jobs.transform.neighbours import neighbours_from_arrays
from jobs.transform.signals import PRESETS, artist_signals, features_to_join, popularity_proxy

log = logging.getLogger("jobs.evaluate")

EPILOG = f"""\
settings to compare (--compare, repeatable; a comma-separated list of names works too):
  published       the lake's related_artists of the dt (the default when --compare is not given)
  {" | ".join(sorted(PRESETS)):<15} a preset (seed = six audio means, minmax, euclidean; fast = eight signals, zscore)
  config          the config's [similarity] settings (conf/local.toml: the default)
  FILE.toml       a [similarity] table, as written by --fit
  'key=value;...' the config's settings with these changed, e.g.
                  'features=energy,tempo,release_year;normalization=rank;weights.energy=2'

config section [evaluate]: k (3), draws (20 random artists per query for the baseline), genres (20 shown
per genre), fit_seed (7), fit_passes (2), report ("data/evaluation").

examples:
  python jobs/evaluate.py --dt 2026-11-27                        # score what the similarity job wrote
  python jobs/evaluate.py --compare seed,config --report /tmp/eval
  python jobs/evaluate.py --compare config --fit --fit-out conf/fitted.toml
  python jobs/similarity.py --weights conf/fitted.toml           # then use the fitted weights

exit status: 0 done, 2 bad settings or a missing snapshot, 1 anything else.
"""


def parse_args(argv: Sequence[str] | None):
    parser = base_parser(__doc__.split("\n\n")[0], EPILOG)
    parser.add_argument("--compare", action="append", default=[], metavar="SETTING",
                        help="a setting to compute and score (see below); repeatable")
    parser.add_argument("--k", type=int, help="related artists scored per artist (overrides evaluate.k)")
    parser.add_argument("--fit", action="store_true", help="learn per-feature weights for the first setting "
                                                           "compared (or the config's)")
    parser.add_argument("--fit-out", metavar="FILE", help="where --fit writes its [similarity] TOML "
                                                          "(default: <report>/fitted.toml)")
    parser.add_argument("--report", metavar="DIR", help="folder for report.html and report.json "
                                                        "(default: evaluate.report/<dt>)")
    return parser.parse_args(argv)


def compare_specs(values: Sequence[str]) -> list[str]:
    specs = []
    for value in values:
        specs.extend([value] if "=" in value or value.endswith(".toml") else
                     [v.strip() for v in value.split(",") if v.strip()])
    return specs or ["published"]


def settings_for(config: dict, spec: str) -> SimilaritySettings:
    """The similarity settings a ``--compare`` value names (see the epilog)."""
    import copy
    local = copy.deepcopy(config)
    if spec in PRESETS:
        similarity.apply_signal_settings(local, PRESETS[spec])
    elif spec.endswith(".toml"):
        set_path(local, "similarity.weights_file", spec)
        similarity.apply_signal_settings(local)
    elif "=" in spec:
        similarity.apply_signal_settings(local)
        for part in filter(None, (p.strip() for p in spec.split(";"))):
            key, _, value = part.partition("=")
            key = key.strip()
            if key == "features":
                set_path(local, "similarity.features", [v.strip() for v in value.split(",") if v.strip()])
            elif key.startswith("weights.") or key in ("normalization", "metric", "shared_tracks"):
                try:
                    typed = float(value) if key.startswith("weights.") else value.strip()
                except ValueError:
                    raise ConfigError(f"--compare {spec!r}: {key} needs a number, got {value!r}") from None
                set_path(local, f"similarity.{key}", typed)
            else:
                raise ConfigError(f"--compare {spec!r}: unknown key {key!r} (features, normalization, metric, "
                                  "weights.<feature>, shared_tracks)")
    elif spec == "config":
        similarity.apply_signal_settings(local)
    else:
        raise ConfigError(f"--compare {spec!r}: not a preset ({', '.join(sorted(PRESETS))}), 'published', "
                          "'config', a .toml file or key=value pairs")
    return SimilaritySettings.from_config(local)


def computed(spark: SparkSession, tables: dict, settings: SimilaritySettings
             ) -> tuple[DataFrame, DataFrame, dict]:
    """``(related, vectors, imputed)`` for ``settings`` from the snapshot's tables, as the similarity job makes them."""
    made = snapshot_vectors(tables, settings)
    related = neighbours_from_arrays(spark, made.ids, made.points, k=settings.k, metric=settings.metric).cache()
    return related, vectors_frame(spark, made).cache(), made.imputed


def snapshot_vectors(tables: dict, settings: SimilaritySettings, metric: str | None = None) -> ArtistVectors:
    """The vectors of ``settings`` (with ``metric`` when given) from the snapshot's tables, as the similarity
    job makes them (``audio_features`` None: the features are on the track rows)."""
    status = artist_signals(tables["top_tracks"], tables["audio_features"], tables["artists"], settings.features,
                            settings.shared_tracks)
    return artist_vectors(status, settings.features, settings.normalization, metric or settings.metric,
                          settings.weights)


def describe(settings: SimilaritySettings) -> dict:
    return {key: value for key, value in settings.parameters().items() if key != "k"}


def run(spark: SparkSession, config: dict, dt: str | None, specs: Sequence[str], fit: bool,
        fit_out: str | None, report_dir: str | None) -> dict:
    options = section(config, "evaluate")
    k = int(options.get("k", 3))
    if k < 1:
        raise ConfigError(f"evaluate.k must be at least 1, got {k}")
    base = SimilaritySettings.from_config(config)
    lake = Lake.from_settings(spark, base)
    dt = dt or lake.latest_snapshot("top_tracks")
    tables = {name: lake.read(name, dt) for name in ("artists", "top_tracks", "audio_features")}
    # None when the features are on the track rows: no join needed (see jobs/similarity.py)
    tables["audio_features"] = features_to_join(tables, lake.column_has_values("top_tracks", dt, "audio_features"))
    # Popularity as the mart gets it (the artist's, its tracks' mean, or the proxy): for the popularity gap.
    tables["artists"] = popularity_proxy(tables["artists"], tables["top_tracks"])[0].cache()
    if genre_table(tables["artists"]).where(F.size("genres") > 0).isEmpty():
        raise ConfigError(f"no artist of dt={dt} has genres: nothing to score against (a tracks-csv snapshot of the "
                          "TidyTuesday layout or the 600k layout with --artists-csv has them)")
    results, first_vectors, first_settings = [], None, None
    for spec in specs:
        with stage(log, f"evaluate {spec}"):
            if spec == "published":
                related = lake.read("related_artists", dt).drop("dt")
                entry = {"label": "published", "settings": None, "imputed": None}
            else:
                settings = settings_for(config, spec)
                settings = dataclasses.replace(settings, k=max(settings.k, k))
                related, vectors, imputed = computed(spark, tables, settings)
                entry = {"label": spec, "settings": describe(settings), "imputed": imputed}
                if first_vectors is None:
                    first_vectors, first_settings = vectors, settings
            entry["figures"] = evaluate_related(related, tables["artists"], tables["top_tracks"], k,
                                                draws=int(options.get("draws", 20)),
                                                top_genres=int(options.get("genres", 20)))
            results.append(entry)
    if first_vectors is None:   # only 'published' was asked for: map the config's own vectors
        first_settings = base
        _, first_vectors, _ = computed(spark, tables, base)
    points, ids, genres = collect_vectors(first_vectors, first_settings.features, tables["artists"])
    listening = held_out_listening(spark, lake, dt, tables, base, int(options.get("fit_seed", 7)), fit)
    fitted = None
    if fit:
        from jobs.evaluation.fit import fit_weights
        with stage(log, "fit weights"):
            unweighted = dataclasses.replace(first_settings, weights=())
            plain, plain_ids, plain_genres = collect_vectors(
                vectors_frame(spark, snapshot_vectors(tables, unweighted, "euclidean")),
                unweighted.features, tables["artists"])
            result = fit_weights(plain, plain_genres, plain_ids, unweighted.features, unweighted.metric, k,
                                 seed=int(options.get("fit_seed", 7)), passes=int(options.get("fit_passes", 2)))
            fitted = result.__dict__
    out_dir = Path(report_dir or Path(str(options.get("report", "data/evaluation"))) / dt)
    if fitted and listening and listening.get("fit"):
        fitted["listeners_weight"] = listening["fit"]["listeners_weight"]
    if fitted:
        path = Path(fit_out) if fit_out else out_dir / "fitted.toml"
        write_fitted(path, fitted, first_settings, dt, k)
        fitted["file"] = str(path)
    from jobs.evaluation.report import pca_projection, write_report
    sample = np.arange(len(ids)) if len(ids) <= 5000 else np.linspace(0, len(ids) - 1, 5000).astype(int)
    top_genre = most_genre_labels(first_vectors, tables["artists"], [ids[i] for i in sample])
    projection = pca_projection(points[sample], top_genre) if len(ids) >= 2 else None
    context = {"lake": base.lake, "dt": dt, "k": k, "artists with genres": results[0]["figures"]["genre_queries"],
               "map and fit setting": str(describe(first_settings))}
    paths = write_report(out_dir, f"Related artists, dt={dt}: genre precision@{k} and more", results, projection,
                         fitted, context, listening)
    from jobs.evaluation.report import comparison_rows, text_table
    print(text_table(comparison_rows(results)))
    if listening:
        from jobs.evaluation.held_out import held_out_rows
        from jobs.evaluation.report import rows_table
        print(f"held-out listeners (truth: each artist's 10 most co-listened in the held-out half; blend weight "
              f"{listening['weight']:g}):")
        print(rows_table(held_out_rows(listening)))
    if fitted:
        print(f"fitted weights ({fitted['file']}): " + ", ".join(f"{n} {w:g}" for n, w in fitted["weights"].items()))
        print(f"precision@{k}: fitted part {fitted['fitted']:.3f} ({fitted['fitted_artists']} artists; all weights 1: "
              f"{fitted['base_fitted']:.3f}); held-out part {fitted['held_out']:.3f} ({fitted['held_out_artists']} "
              f"artists; all weights 1: {fitted['base_held_out']:.3f})")
    log.info("report: %s and %s", paths["html"], paths["json"])
    return {"dt": dt, "results": results, "fit": fitted, "paths": paths, "listening": listening}


def held_out_listening(spark: SparkSession, lake: Lake, dt: str, tables: dict, settings: SimilaritySettings,
                       seed: int, fit: bool) -> dict | None:
    """The held-out-listener figures (jobs/evaluation/held_out.py) of ``settings`` when the snapshot has
    listening data, else None."""
    contexts = similarity.listening_contexts(lake, dt)
    if contexts is None:
        return None
    from jobs.evaluation.held_out import SHOWN, Candidates, evaluate_held_out
    vectors = snapshot_vectors(tables, settings)
    m = max(settings.k, settings.candidates, SHOWN)
    sound = neighbours_from_arrays(spark, vectors.ids, vectors.points, k=m, metric=settings.metric).cache()

    def candidates_for(build: DataFrame) -> Candidates:
        listened = similarity.listening_candidates(spark, build, vectors, settings, m).cache()
        return Candidates(sound, listened, k=SHOWN, m=m)

    weight = settings.listeners_weight or PRESETS["default"]["listeners_weight"]
    with stage(log, "held-out listeners"):
        return evaluate_held_out(spark, candidates_for, contexts.cache(), vectors.ids, tables["artists"],
                                 tables["top_tracks"], weight, seed, settings.co_listening, fit)


def collect_vectors(vectors: DataFrame, features: Sequence[str], artists: DataFrame):
    """``(points, ids, genre sets)`` on the driver, ordered by artist_id."""
    table = (vectors.join(genre_table(artists).select("artist_id", "genres"), "artist_id", "left")
             .orderBy("artist_id").toArrow())
    points = np.column_stack([table.column(f).to_numpy() for f in features]) if table.num_rows else \
        np.empty((0, len(features)))
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
    weights = ", ".join(f'{f} = {w!r}' for f, w in fitted["weights"].items())
    path.write_text(
        f"# Weights fitted by jobs/evaluate.py --fit on dt={dt} (split seed {fitted['seed']}): genre precision@{k}\n"
        f"# fitted part {fitted['fitted']:.4f} ({fitted['fitted_artists']} artists; all weights 1: "
        f"{fitted['base_fitted']:.4f}), held-out part {fitted['held_out']:.4f} ({fitted['held_out_artists']} "
        f"artists; all weights 1: {fitted['base_held_out']:.4f}).\n"
        f"# Use: python jobs/similarity.py --weights {path}\n"
        f"[similarity]\nfeatures = [{features}]\nnormalization = \"{settings.normalization}\"\n"
        f"metric = \"{settings.metric}\"\nshared_tracks = \"{settings.shared_tracks}\"\nweights = {{ {weights} }}\n"
        + (f"listeners_weight = {fitted['listeners_weight']!r}\n" if "listeners_weight" in fitted else ""),
        encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)

    def job() -> None:
        config = load_config(args.config, args.overrides)
        if args.lake:
            set_path(config, "lake.path", args.lake)
        if args.k is not None:
            set_path(config, "evaluate.k", args.k)
        similarity.apply_signal_settings(config)
        run(start_spark(config, "evaluate"), config, args.dt, compare_specs(args.compare), args.fit, args.fit_out,
            args.report)

    return exit_status(job, log)


if __name__ == "__main__":
    sys.exit(main())
