"""Which mart names a typed key that matched nothing exactly is close to, and when one of them is it.

The candidates come from the mart's suggestion indexes (``mart.suggest.candidates``): the names
sorting next to the typed key, by key and by key backwards, and by initial consonants for a 초성
query. :func:`rank` orders them by similarity, letter by letter (Hangul as jamo). :func:`sole_match`
says when the typed key names one artist without being its whole name: a whole word of exactly one
artist's name (``bach`` and Johann Sebastian Bach), or the exact initials of exactly one (ㅂㅌㅅㄴㄷ).
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from mart.suggest import Candidate
from shared.hangul import decompose, only_initials
from shared.names import CLOSE_ENOUGH, word_keys

MIN_SCORE = 0.5
WORD_SCORE = 0.9  # the typed key is a whole word of the name
PREFIX_SCORE = 0.8  # the name starts with the typed key (2 letters or more)
INITIALS_SCORE = 0.95  # the typed initial consonants are the name's
DID_YOU_MEAN = CLOSE_ENOUGH  # a best suggestion this close is taken for a typo of it ("혹시 … 찾으셨나요?"), in
# any script: the bar a Spotify hit must clear to be taken for the typed name


@dataclass(frozen=True)
class Suggestion:
    artist_id: str
    name: str
    score: float


def score(key: str, candidate: Candidate, matcher: SequenceMatcher | None = None) -> float:
    """How close ``candidate`` is to the typed ``key``, 0..1: ``shared.names.key_similarity`` (letters,
    Hangul as jamo), at least ``PREFIX_SCORE`` for a name starting with the key and ``WORD_SCORE`` for
    a name one of whose words is the key. ``matcher`` holds the typed key's letters as its second
    sequence (kept across candidates: ``difflib`` indexes that side once)."""
    if only_initials(key):
        found = candidate.initials or ""
        if found == key:
            return INITIALS_SCORE
        return 0.6 + 0.3 * len(key) / len(found) if found.startswith(key) else 0.0
    if matcher is None:
        matcher = SequenceMatcher(None, "", decompose(key), autojunk=False)
    matcher.set_seq1(decompose(candidate.key))
    value = matcher.ratio() if matcher.quick_ratio() >= MIN_SCORE else 0.0
    if len(key) >= 2 and candidate.key.startswith(key):
        value = max(value, PREFIX_SCORE)
    if len(key) >= 2 and key in candidate.key and key in word_keys(candidate.name):
        value = max(value, WORD_SCORE)
    return value


def rank(key: str, candidates: list[Candidate], limit: int) -> list[Suggestion]:
    """The ``limit`` candidates closest to ``key``, best first, each artist once; under ``MIN_SCORE``
    left out; equal scores: the most popular first."""
    best: dict[str, tuple[float, Candidate]] = {}
    matcher = SequenceMatcher(None, "", decompose(key), autojunk=False)
    seen: set[tuple[str, str]] = set()
    for candidate in candidates:
        if (candidate.artist_id, candidate.key) in seen:  # the probes overlap
            continue
        seen.add((candidate.artist_id, candidate.key))
        value = score(key, candidate, matcher)
        if value >= MIN_SCORE and value > best.get(candidate.artist_id, (-1.0, None))[0]:
            best[candidate.artist_id] = (value, candidate)
    ordered = sorted(best.values(), key=lambda pair: (-pair[0], -pair[1].popularity, pair[1].name))
    return [Suggestion(c.artist_id, c.name, round(value, 3)) for value, c in ordered[:limit]]


def sole_match(key: str, candidates: list[Candidate], neighbours: int) -> Candidate | None:
    """The one artist ``key`` names without being its name: a whole word of exactly one artist's name
    (3 letters or more), or the exact initials of exactly one; ``None`` when none or several do.

    The index ranges are read ``neighbours`` rows at a time: when as many rows start (or end) with
    the key, more may exist, and nothing is said to be the only one.
    """
    if only_initials(key):
        starting = [c for c in candidates if c.probe == "i" and (c.initials or "").startswith(key)]
        exact = {c.artist_id: c for c in starting if c.initials == key}
        return next(iter(exact.values())) if len(exact) == 1 and len(starting) < neighbours else None
    if len(key) < 3:
        return None
    starting = [c for c in candidates if c.probe == "p+" and c.key.startswith(key)]
    ending = [c for c in candidates if c.probe == "s+" and c.key.endswith(key)]
    if len(starting) >= neighbours or len(ending) >= neighbours:
        return None
    words = {c.artist_id: c for c in starting + ending if c.key != key and key in word_keys(c.name)}
    return next(iter(words.values())) if len(words) == 1 else None
