"""Fuzzy suggestions: which mart names are close to a typed name that matched nothing exactly.

Exact matching is the mart's own name key (``mart.names.name_key``, over names and aliases).
When that finds nothing, the repository fetches candidates whose keys share a few short pieces
(n-grams) with the typed key, using the patterns below, and :func:`rank` orders them by similarity.
"""

from __future__ import annotations

from difflib import SequenceMatcher

LIKE_ESCAPE = "!"
MAX_PATTERNS = 4
MIN_SCORE = 0.5


def _escape(text: str) -> str:
    for ch in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(ch, LIKE_ESCAPE + ch)
    return text


def like_patterns(key: str) -> list[str]:
    """Up to four ``LIKE`` patterns (escape character ``!``) for keys sharing a piece of ``key``.

    Pieces are 3 characters long for keys of 7 or more, else 2, spread evenly over the key,
    so one typo leaves most of them intact. Keys of 1 or 2 characters match as prefixes.
    """
    if not key:
        return []
    if len(key) <= 2:
        return [_escape(key) + "%"]
    size = 3 if len(key) >= 7 else 2
    last = len(key) - size
    starts = sorted({round(i * last / (MAX_PATTERNS - 1)) for i in range(MAX_PATTERNS)})
    grams = list(dict.fromkeys(key[start:start + size] for start in starts))
    return ["%" + _escape(gram) + "%" for gram in grams]


def score(key: str, candidate_key: str) -> float:
    """Similarity of two keys in 0..1; a candidate that starts with the typed key scores at least 0.8."""
    ratio = SequenceMatcher(None, key, candidate_key, autojunk=False).ratio()
    return max(ratio, 0.8) if candidate_key.startswith(key) and len(key) >= 2 else ratio


def rank(key: str, candidates: list[tuple[str, str]], limit: int) -> list[str]:
    """Names of the ``limit`` candidates ``(name, key)`` closest to ``key``, best first, each name once.

    Candidates scoring under 0.5 are dropped; ties keep the candidates' order (most popular first).
    """
    scored: dict[str, float] = {}
    for name, candidate_key in candidates:
        value = score(key, candidate_key)
        if value >= MIN_SCORE and value > scored.get(name, -1.0):
            scored[name] = value
    order = {name: i for i, (name, _) in reversed(list(enumerate(candidates)))}
    return sorted(scored, key=lambda name: (-scored[name], order[name]))[:limit]
