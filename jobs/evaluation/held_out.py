"""Agreement with listeners the blend never saw.

The snapshot's listening contexts are split by a seeded hash of their id: the collaborative signal is
built from the *build* part only, and each artist's truth is its ``truth`` artists most often held
together with it by the *held-out* contexts (pairs shared by at least two of them; ties by id). Sound
alone, listeners alone (blend weight 1) and the blend are then scored, with two baselines:

* **precision@3**: the share of an artist's first three related artists that are in its truth, over
  the artists with a truth;
* **recall@10**: the share of its truth among its first ten related artists;
* **popularity**: the ten artists in the most build contexts (for everyone, the query left out);
* **random**: the expected value of artists drawn uniformly from the others (no draws: exact).

Every figure is also given for the artists *with* listening data in the build part (the blend uses it)
and *without* (they fall back to sound), with genre precision@3 where the snapshot has genres, and by
the number of build contexts and of top tracks an artist has.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.evaluation.fit import split_half
from jobs.transform.blend import blend
from jobs.transform.evaluation import genre_precision
from jobs.transform.listeners import (
    CoListening,
    context_sets,
    numbered,
    pair_counts,
    top_listened,
)

log = logging.getLogger(__name__)

SHOWN = 10  # related artists scored per artist (recall@10); precision is of the first PRECISION
PRECISION = 3
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))
CONTEXT_BUCKETS = ((1, 4), (5, 9), (10, 19), (20, 49), (50, None))
TRACK_BUCKETS = ((1, 1), (2, 4), (5, 9), (10, None))


@dataclass(frozen=True)
class Split:
    build: DataFrame
    held_out: DataFrame


def split_contexts(contexts: DataFrame, seed: int) -> Split:
    """Contexts in two disjoint parts, about half each, by a seeded hash of ``context_id``."""
    held = F.pmod(F.xxhash64(F.col("context_id"), F.lit(int(seed))), F.lit(2)) == 1
    return Split(build=contexts.where(~held), held_out=contexts.where(held))


def truth(spark: SparkSession, held_out: DataFrame, ids, top: int, options: CoListening) -> dict[str, list[str]]:
    """Each artist's ``top`` artists most often held together by ``held_out`` contexts (at least 2)."""
    numbers = numbered(spark, ids)
    items = held_out.join(numbers, "artist_id").select("context_id", "item", "weight", "source")
    sets = context_sets(items, options.top_n)
    plain = CoListening(
        top_n=options.top_n, min_support=2, chat_min_users=options.chat_min_users, chat_cap=options.chat_cap
    )
    pairs = pair_counts(sets, plain)
    both = pairs.unionByName(pairs.select(F.col("other").alias("item"), F.col("item").alias("other"), "together"))
    ranked = top_listened(both.withColumn("similarity", F.col("together").cast("double")), top)
    return _lists(
        ranked.join(numbers.withColumnRenamed("item", "i"), F.col("item") == F.col("i"))
        .join(
            numbers.select(F.col("artist_id").alias("related_id"), F.col("item").alias("o")),
            F.col("other") == F.col("o"),
        )
        .select("artist_id", "rank", "related_id")
    )


def _lists(related: DataFrame) -> dict[str, list[str]]:
    """``artist_id -> [related_id by rank]`` on the driver."""
    table = related.select("artist_id", "rank", "related_id").toArrow().to_pandas()
    table = table.sort_values(["artist_id", "rank"])
    return {artist: list(group["related_id"]) for artist, group in table.groupby("artist_id", sort=False)}


def scores(lists: Mapping[str, Sequence[str]], truths: Mapping[str, Sequence[str]], queries: Sequence[str]) -> dict:
    """precision@3 and recall@10 of ``lists`` against ``truths`` over ``queries`` that have a truth."""
    asked = [q for q in queries if truths.get(q)]
    if not asked:
        return {"precision@3": None, "recall@10": None, "queries": 0}
    precision = [len(set(lists.get(q, [])[:PRECISION]) & set(truths[q])) / PRECISION for q in asked]
    recall = [len(set(lists.get(q, [])[:SHOWN]) & set(truths[q])) / len(truths[q]) for q in asked]
    return {"precision@3": float(np.mean(precision)), "recall@10": float(np.mean(recall)), "queries": len(asked)}


def random_scores(truths: Mapping[str, Sequence[str]], queries: Sequence[str], pool: int) -> dict:
    """The expected ``scores`` of artists drawn uniformly from the ``pool - 1`` others."""
    asked = [q for q in queries if truths.get(q)]
    if not asked or pool < 2:
        return {"precision@3": None, "recall@10": None, "queries": 0}
    others = pool - 1
    return {
        "precision@3": float(np.mean([len(truths[q]) / others for q in asked])),
        "recall@10": min(1.0, SHOWN / others),
        "queries": len(asked),
    }


def popular_lists(counts: Mapping[str, int], queries: Sequence[str]) -> dict[str, list[str]]:
    """The ``SHOWN`` artists in the most contexts (ties by id), each query left out of its own list."""
    ranked = [a for a, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[: SHOWN + 1]]
    return {q: [a for a in ranked if a != q][:SHOWN] for q in queries}


def bucket_of(value: int, buckets) -> str | None:
    for low, high in buckets:
        if value >= low and (high is None or value <= high):
            return f"{low}+" if high is None else (str(low) if low == high else f"{low}-{high}")
    return None


@dataclass
class Candidates:
    """What every blend weight is made of: each artist's sound and listening candidates."""

    sound: DataFrame
    listened: DataFrame
    k: int
    m: int

    def related(self, weight: float) -> DataFrame:
        return blend(self.sound, self.listened, self.k, self.m, weight)


def evaluate_held_out(
    spark: SparkSession,
    candidates_for: Callable[[DataFrame], Candidates],
    contexts: DataFrame,
    ids,
    artists: DataFrame,
    top_tracks: DataFrame,
    weight: float,
    seed: int,
    options: CoListening,
    fit: bool = False,
) -> dict:
    """Every figure of the module's docstring, as a dict (see :func:`held_out_rows` for the table).

    ``candidates_for(build contexts)`` gives the sound and listening candidates of the setting scored.
    With ``fit``, the blend weight is also chosen on half of the artists (by precision@3 over
    ``WEIGHTS``) and scored on the other half.
    """
    split = split_contexts(contexts, seed)
    truths = truth(spark, split.held_out, ids, SHOWN, options)
    made = candidates_for(split.build)
    covered = {r.artist_id for r in made.listened.select("artist_id").distinct().collect()}
    queries = [str(i) for i in ids.to_pylist()]
    groups = {
        "all": queries,
        "with listening data": [q for q in queries if q in covered],
        "without": [q for q in queries if q not in covered],
    }
    counts = context_counts(split.build)
    lists = {
        "sound": _lists(made.related(0.0)),
        "listeners": _lists(made.related(1.0)),
        "blend": _lists(made.related(weight)),
    }
    lists["popularity"] = popular_lists(counts, queries)
    figures = {
        "weight": weight,
        "seed": seed,
        "truth_artists": sum(1 for q in queries if truths.get(q)),
        "build_contexts": split.build.select("context_id").distinct().count(),
        "held_out_contexts": split.held_out.select("context_id").distinct().count(),
        "groups": {},
    }
    for group, members in groups.items():
        row = {name: scores(found, truths, members) for name, found in lists.items()}
        row["random"] = random_scores(truths, members, len(queries))
        figures["groups"][group] = row
    figures["genre_precision"] = genre_figures(spark, made, weight, artists, groups)
    tracks = {r.artist_id: int(r.n) for r in top_tracks.groupBy("artist_id").agg(F.count("*").alias("n")).collect()}
    figures["by_contexts"] = by_bucket(lists, truths, queries, lambda q: counts.get(q, 0), CONTEXT_BUCKETS)
    figures["by_tracks"] = by_bucket(lists, truths, queries, lambda q: tracks.get(q, 0), TRACK_BUCKETS)
    if fit:
        figures["fit"] = fit_weight(made, truths, queries, seed)
    return figures


def context_counts(contexts: DataFrame) -> dict[str, int]:
    rows = contexts.where(F.col("weight") > 0).groupBy("artist_id").agg(F.countDistinct("context_id").alias("n"))
    return {r.artist_id: int(r.n) for r in rows.collect()}


def genre_figures(
    spark: SparkSession, made: Candidates, weight: float, artists: DataFrame, groups: Mapping[str, Sequence[str]]
) -> dict:
    """Genre precision@3 of sound and blend per group, where the snapshot has genres."""
    from jobs.transform.evaluation import genre_table

    genres = genre_table(artists).cache()
    if genres.where(F.size("genres") > 0).isEmpty():
        return {}
    out = {}
    for group, members in groups.items():
        chosen = spark.createDataFrame([(m,) for m in members], "artist_id string")
        out[group] = {
            name: genre_precision(made.related(w).join(chosen, "artist_id"), genres, PRECISION)
            for name, w in (("sound", 0.0), ("blend", weight))
        }
    return out


def by_bucket(
    lists: Mapping[str, Mapping], truths: Mapping, queries: Sequence[str], size: Callable[[str], int], buckets
) -> list[dict]:
    """precision@3 of sound and blend per bucket of ``size(artist)``."""
    rows = []
    for low, high in buckets:
        label = bucket_of(low, buckets)
        members = [q for q in queries if low <= size(q) and (high is None or size(q) <= high)]
        rows.append(
            {
                "bucket": label,
                **{name: scores(lists[name], truths, members)["precision@3"] for name in ("sound", "blend")},
                "queries": scores(lists["sound"], truths, members)["queries"],
            }
        )
    return rows


def fit_weight(made: Candidates, truths: Mapping, queries: Sequence[str], seed: int) -> dict:
    """The blend weight of ``WEIGHTS`` with the best precision@3 on one half of the artists (ties: the
    smaller weight), and its precision on the other half."""
    fitted_half = split_half(queries, seed)
    fit_part = [q for q, f in zip(queries, fitted_half) if f]
    held_part = [q for q, f in zip(queries, fitted_half) if not f]
    tried = {}
    for weight in WEIGHTS:
        lists = _lists(made.related(weight))
        tried[weight] = (
            scores(lists, truths, fit_part)["precision@3"] or 0.0,
            scores(lists, truths, held_part)["precision@3"] or 0.0,
        )
    best = max(WEIGHTS, key=lambda w: (tried[w][0], -w))
    log.info(
        "blend weight fitted on held-out listeners: %.1f (precision@3 %.3f fitted half, %.3f other half)",
        best,
        *tried[best],
    )
    return {
        "listeners_weight": best,
        "fitted": tried[best][0],
        "held_out": tried[best][1],
        "sound_held_out": tried[0.0][1],
        "tried": {str(w): v for w, v in tried.items()},
        "fitted_artists": len(fit_part),
        "held_out_artists": len(held_part),
    }


def held_out_rows(figures: Mapping) -> list[dict]:
    """One row per group and setting: the table of the report and the console."""
    rows = []
    for group, settings in figures["groups"].items():
        genre = figures.get("genre_precision", {}).get(group, {})
        for name, values in settings.items():
            rows.append(
                {
                    "artists": group,
                    "setting": name,
                    "precision@3": values["precision@3"],
                    "recall@10": values["recall@10"],
                    "queries": values["queries"],
                    "genre precision@3": (genre.get(name) or {}).get("precision"),
                }
            )
    return rows
