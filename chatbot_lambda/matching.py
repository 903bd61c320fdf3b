"""Fuzzy suggestions: which mart names are close to a typed name that matched nothing exactly.

Exact matching is the mart's own name key (``mart.names.name_key``, over names and aliases).
When that finds nothing, the repository fetches candidates whose keys share a few short pieces
(n-grams) with the typed key, using the patterns below, and :func:`rank` orders them by similarity.
"""

from __future__ import annotations

from mart.names import key_similarity

LIKE_ESCAPE = "!"
MAX_PATTERNS = 4
MAX_OVERLAP = 12
MIN_SCORE = 0.5


def _escape(text: str) -> str:
    for ch in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(ch, LIKE_ESCAPE + ch)
    return text


def _pieces(key: str, count: int) -> list[str]:
    """Up to ``count`` pieces of ``key`` spread evenly over it: 3 characters long for keys of 7 or
    more, else 2; a key of 1 or 2 characters is its own piece."""
    if len(key) <= 2:
        return [key] if key else []
    size = 3 if len(key) >= 7 else 2
    last = len(key) - size
    n = min(count, last + 1)
    starts = sorted({round(i * last / max(n - 1, 1)) for i in range(n)})
    return list(dict.fromkeys(key[start:start + size] for start in starts))


def like_patterns(key: str) -> list[str]:
    """Up to four ``LIKE`` patterns (escape character ``!``) finding keys that share a piece of ``key``.

    The pieces are spread over the key, so one typo leaves most of them intact. Keys of 1 or 2
    characters match as prefixes.
    """
    if len(key) <= 2:
        return [_escape(key) + "%"] if key else []
    return ["%" + _escape(piece) + "%" for piece in _pieces(key, MAX_PATTERNS)]


def overlap_patterns(key: str) -> list[str]:
    """``LIKE`` patterns for (up to 12 of) all of the key's pieces: how many of them a candidate
    matches orders the candidates before they are ranked, so that names sharing one common piece
    (``art`` in thousands of "Artist N") cannot crowd out the close ones."""
    if len(key) <= 2:
        return like_patterns(key)
    return ["%" + _escape(piece) + "%" for piece in _pieces(key, MAX_OVERLAP)]


def score(key: str, candidate_key: str) -> float:
    """Similarity of two keys in 0..1; a candidate that starts with the typed key (2 characters or
    more) scores at least 0.8."""
    ratio = key_similarity(key, candidate_key)
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
