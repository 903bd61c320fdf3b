"""Normalized name keys: how a typed artist name is matched against the mart and a search's hits."""

from __future__ import annotations

import unicodedata
from difflib import SequenceMatcher
from typing import Sequence

# Unicode categories dropped from a key: separators (spaces of every kind) and
# "other" (control, format such as zero-width joiners, unassigned, private use).
_DROPPED = ("Z", "C")

MAX_KEY_LENGTH = 512


def name_key(text: str | None) -> str:
    """The lookup key of a name: NFKC-normalized, case-folded, without spaces or invisible characters.

    ``"  BTS "``, ``"b t s"`` and the full-width ``"ＢＴＳ"`` share the key ``"bts"``;
    Korean, Japanese and other scripts keep their letters. ``None`` gives ``""``.
    Keys are cut at ``MAX_KEY_LENGTH`` characters (the width of the mart's key columns).
    """
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    kept = "".join(ch for ch in folded if unicodedata.category(ch)[0] not in _DROPPED)
    return kept[:MAX_KEY_LENGTH]


CLOSE_ENOUGH = 0.8


def key_similarity(key: str, other: str) -> float:
    """How alike two name keys are, 0..1 (``difflib`` ratio, without its junk heuristic)."""
    return SequenceMatcher(None, key, other, autojunk=False).ratio()


def closest_name(typed: str, names: Sequence[str]) -> int | None:
    """The index in ``names`` (a search's hits, best first) of the name ``typed`` means, or ``None``.

    Search is fuzzy and nearly always answers something, so a hit is taken only when it is close to
    what was typed: the first hit with the same :func:`name_key`; else the hit whose key is most
    similar (``difflib`` ratio, the first of equals) when that scores at least ``CLOSE_ENOUGH``;
    else, when the typed key and the first hit's key are written in different scripts (their letters
    share no Unicode script: ``아이유`` finds ``IU``, while ``Zoé`` is no answer to ``Adele``), the
    first hit, as nothing local can say better. An empty typed name or no hits give ``None``.
    """
    key = name_key(typed)
    if not key or not names:
        return None
    keys = [name_key(name) for name in names]
    if key in keys:
        return keys.index(key)
    scores = [key_similarity(key, other) for other in keys]
    best = max(range(len(keys)), key=lambda i: scores[i])
    if scores[best] >= CLOSE_ENOUGH:
        return best
    if _other_script(key, keys[0]):
        return 0
    return None


def _scripts(key: str) -> set[str]:
    """The scripts of a key's letters, by the first word of their Unicode names (LATIN, HANGUL, CJK, ...)."""
    return {unicodedata.name(ch, "?").split(" ")[0] for ch in key if ch.isalpha()}


def _other_script(key: str, other: str) -> bool:
    """True when both keys have letters and share no script (``아이유`` and ``iu``; not ``adele`` and ``zoé``)."""
    mine, theirs = _scripts(key), _scripts(other)
    return bool(mine and theirs and not mine & theirs)
