"""The similarity job's steps that the evaluation shares: an artist vector per artist from a snapshot's
tables, the snapshot's listening data, and each artist's candidates from it. Both entry points
(jobs/similarity.py, jobs/evaluate.py) import them from here: neither imports the other.

* ``snapshot_vectors``: the vectors of a setting from the tables ``artists``, ``top_tracks`` and
  ``audio_features`` (None when the features are on the track rows);
* ``listening_contexts``: the lake's ``artist_contexts`` of a dt, or None (logged) when it has none;
* ``listening_candidates``: each artist's ``m`` candidates by ``listeners.method``.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame, SparkSession

from jobs.common.lake import Lake
from jobs.settings import SimilaritySettings
from jobs.transform.artist_vectors import ArtistVectors, artist_vectors
from jobs.transform.listeners import listened_candidates
from jobs.transform.signals import artist_signals

log = logging.getLogger("jobs.similarity_steps")


def snapshot_vectors(tables: dict, settings: SimilaritySettings, metric: str | None = None) -> ArtistVectors:
    """The artist vectors of ``settings`` (with ``metric`` when given) from the snapshot's ``tables``:
    ``artists``, ``top_tracks`` and ``audio_features`` (None: the features are on the track rows)."""
    status = artist_signals(
        tables["top_tracks"], tables["audio_features"], tables["artists"], settings.features, settings.shared_tracks
    )
    return artist_vectors(
        status, settings.features, settings.normalization, metric or settings.metric, settings.weights
    )


def listening_contexts(lake: Lake, dt: str) -> DataFrame | None:
    """The snapshot's ``artist_contexts``, or None (with a log line) when it has none."""
    if not lake.exists("artist_contexts") or dt not in lake.snapshots("artist_contexts"):
        log.info("no listening data (artist_contexts) for dt=%s: related artists by sound alone", dt)
        return None
    return lake.read("artist_contexts", dt)


def listening_candidates(
    spark: SparkSession, contexts: DataFrame, vectors: ArtistVectors, settings: SimilaritySettings, m: int
) -> DataFrame:
    """Each artist's ``m`` candidates from listening data by ``listeners.method``: co-occurrence
    (jobs/transform/listeners.py, the default) or ALS embeddings (jobs/transform/als.py)."""
    if settings.listeners_method == "als":
        from jobs.transform.als import AlsOptions, als_candidates

        return als_candidates(
            spark,
            contexts,
            vectors.ids,
            vectors.points,
            settings.metric,
            m,
            AlsOptions(min_contexts=settings.co_listening.min_contexts),
        )
    return listened_candidates(spark, contexts, vectors.ids, vectors.points, settings.metric, m, settings.co_listening)
