"""Normalized name keys: how a typed artist name is matched against the mart."""

from __future__ import annotations

import unicodedata

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
