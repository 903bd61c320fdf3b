"""Per-feature weights learned from genres, on the driver, with the project's exact neighbour search.

The artists that have genres are split in two by a seeded hash of their id (deterministic, and
independent of row order). Weights are searched on one part only, with its artists as both
queries and candidates; the other part, a separate pool of queries and candidates, is scored
with the weights found and never seen by the search. Coordinate search: each feature in turn
takes the weight from :data:`GRID` that raises the fitted part's genre precision@k most (ties
keep the current weight), for ``passes`` passes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from jobs.transform.neighbours import NeighbourIndex

GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)


def split_half(ids: Sequence[str], seed: int) -> np.ndarray:
    """True for the fitted part: the low bit of SHA-256("<seed>:<id>")."""
    return np.array([hashlib.sha256(f"{seed}:{i}".encode()).digest()[0] & 1 == 0 for i in ids], dtype=bool)


def metric_space(points: np.ndarray, metric: str) -> np.ndarray:
    """Unit rows for cosine (zero rows stay zero), unchanged for euclidean: as the job does."""
    if metric != "cosine":
        return points
    norms = np.sqrt((points * points).sum(axis=1))
    return np.divide(points, norms[:, None], out=np.zeros_like(points), where=norms[:, None] > 0)


def precision_at_k(points: np.ndarray, genres: Sequence[frozenset], metric: str, k: int) -> float:
    """Genre precision@k of the exact k nearest others, all rows being queries and candidates."""
    n = points.shape[0]
    if n < 2:
        return 0.0
    index = NeighbourIndex(metric_space(points, metric), np.arange(n), metric)
    neighbours_at, _ = index.query(np.arange(n), k)
    neighbours = index.order[neighbours_at]  # positions -> rows
    rows = index.order
    hits = total = 0
    for row, found in zip(rows, neighbours):
        mine = genres[row]
        if not mine:
            continue
        for other in found:
            total += 1
            hits += bool(mine & genres[other])
    return hits / total if total else 0.0


@dataclass
class FitResult:
    features: list[str]
    weights: dict[str, float]
    seed: int
    fitted_artists: int
    held_out_artists: int
    base_fitted: float  # precision@k with all weights 1, fitted part
    base_held_out: float  # the same, held-out part
    fitted: float  # with the weights found, fitted part
    held_out: float  # with the weights found, held-out part (never searched on)
    trace: list[dict] = field(default_factory=list)


def fit_weights(
    points: np.ndarray,
    genres: Sequence[frozenset],
    ids: Sequence[str],
    features: Sequence[str],
    metric: str,
    k: int,
    seed: int = 7,
    passes: int = 2,
) -> FitResult:
    """Search weights on one half of the artists with genres; score both halves."""
    labelled = np.array([bool(g) for g in genres])
    rows = np.flatnonzero(labelled)
    fitted_mask = split_half([ids[i] for i in rows], seed)
    fit_rows, held_rows = rows[fitted_mask], rows[~fitted_mask]
    fit_points, held_points = points[fit_rows], points[held_rows]
    fit_genres = [genres[i] for i in fit_rows]
    held_genres = [genres[i] for i in held_rows]

    def score(weights: np.ndarray, part_points, part_genres) -> float:
        return precision_at_k(part_points * weights, part_genres, metric, k)

    weights = np.ones(len(features))
    best = base_fitted = score(weights, fit_points, fit_genres)
    trace = [{"pass": 0, "feature": None, "weight": None, "fitted": best}]
    for step in range(1, passes + 1):
        changed = False
        for j, name in enumerate(features):
            for value in GRID:
                if value == weights[j]:
                    continue
                trial = weights.copy()
                trial[j] = value
                if not trial.any():
                    continue
                found = score(trial, fit_points, fit_genres)
                if found > best + 1e-12:
                    best, weights, changed = found, trial, True
            trace.append({"pass": step, "feature": name, "weight": float(weights[j]), "fitted": best})
        if not changed:
            break
    return FitResult(
        features=list(features),
        weights={f: float(w) for f, w in zip(features, weights)},
        seed=seed,
        fitted_artists=len(fit_rows),
        held_out_artists=len(held_rows),
        base_fitted=base_fitted,
        base_held_out=score(np.ones(len(features)), held_points, held_genres),
        fitted=best,
        held_out=score(weights, held_points, held_genres),
        trace=trace,
    )
