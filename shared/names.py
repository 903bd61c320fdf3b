"""Normalized name keys: how a typed artist name is matched against the mart and a search's hits.

The key (:func:`name_key`) is what exact lookups compare; :func:`rev_key` and :func:`initials` are
the two extra keys the mart indexes for suggestions (a typo keeps a long prefix or a long suffix;
초성 queries type only initial consonants). :func:`key_similarity` compares Hangul letter by letter
(jamo), so a one-letter typo in a syllable costs one letter, not the syllable.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from difflib import SequenceMatcher

from shared.hangul import decompose, initials_of

# Unicode categories dropped from a key: separators (spaces of every kind) and
# "other" (control, format such as zero-width joiners, unassigned, private use).
_DROPPED = ("Z", "C")
# Invisible characters of other categories that KakaoTalk users actually send: Hangul fillers,
# variation selectors, the combining grapheme joiner, the Braille blank, Khmer inherent vowels and
# Mongolian variation selectors (letters or marks to Unicode, blanks to the eye).
INVISIBLE = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0]
    + list(range(0x180B, 0x1810))
    + list(range(0xFE00, 0xFE10))
    + list(range(0xE0100, 0xE01F0))
)
# Of those, the ones typed as spaces (a blank between words): read as spaces by :func:`visible`.
BLANKS = frozenset([0x2800, 0x3164, 0xFFA0])
# Letters that do not decompose into a base letter and an accent, typed without their stroke.
_FOLDED = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th", "ð": "d", "ŋ": "n"}
)

MAX_KEY_LENGTH = 512


def visible(text: str | None) -> str:
    """``text`` as a reader sees it, on one line: controls, separators and blank letters (``BLANKS``)
    become spaces; other invisible characters (``INVISIBLE``, format characters such as zero-width
    spaces, and the rest of Unicode's "C" categories) are taken out; runs of spaces become one, and
    the ends are trimmed. Letters are left as typed (no normalization). A text made only of invisible
    characters gives ``""``.

    The one rule for what shows: the chatbot reads and quotes messages through it, and
    :func:`name_key` and :func:`word_keys` drop what it drops.
    """
    kept = []
    for ch in text or "":
        category = unicodedata.category(ch)
        if ord(ch) in BLANKS or category == "Cc" or category[0] == "Z":
            kept.append(" ")
        elif category[0] != "C" and ord(ch) not in INVISIBLE:
            kept.append(ch)
    return " ".join("".join(kept).split())


def legacy_key(text: str | None) -> str:
    """The key of mart schema version 1 (NFKC, case-folded, without spaces and format characters).

    Kept so that a mart published under version 1 still answers exactly until its next publish.
    """
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in _DROPPED)[:MAX_KEY_LENGTH]


def _plain(ch: str) -> str:
    """``ch`` without accents: the combining marks of Latin, Greek and Cyrillic letters are dropped."""
    if ch.isascii() or not ch.isalpha():
        return ch
    base = unicodedata.normalize("NFD", ch)
    if len(base) > 1 and base[0].isascii():
        return "".join(c for c in base if not 0x0300 <= ord(c) <= 0x036F)
    return ch


def name_key(text: str | None) -> str:
    """The lookup key of a name: NFKC-normalized, case-folded, without spaces, invisible characters,
    accents on Latin letters, apostrophes, quotes and other punctuation.

    ``"  BTS "``, ``"b t s"`` and the full-width ``"ＢＴＳ"`` share the key ``"bts"``; ``Beyoncé`` and
    ``beyonce``, ``Olivia O’Brien`` and ``olivia o'brien``, ``Tyler, The Creator`` and ``tyler the
    creator`` share theirs. Korean, Japanese and other scripts keep their letters (NFKC composes
    typed jamo into syllables). A name made only of punctuation (``!!!``) keeps it, so that it still
    has a key. ``None`` gives ``""``. Keys are cut at ``MAX_KEY_LENGTH`` characters.
    """
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    shown = visible(folded).replace(" ", "")  # NFKC turns some blanks into INVISIBLE ones: after it
    plain = "".join(_plain(ch) for ch in shown).translate(_FOLDED)
    kept = "".join(ch for ch in plain if unicodedata.category(ch)[0] != "P")
    if not any(ch.isalnum() for ch in kept):
        kept = shown
    return unicodedata.normalize("NFC", kept)[:MAX_KEY_LENGTH]


def rev_key(key: str) -> str:
    """A key written backwards: the mart indexes it so that names sharing a long ending sort together."""
    return key[::-1]


def initials(key: str) -> str | None:
    """The initial consonants (초성) of a key's Hangul syllables, when it has at least two; else ``None``."""
    found = initials_of(key)
    return found if len(found) >= 2 else None


def word_keys(name: str | None) -> list[str]:
    """The keys of a name's words (split at spaces and punctuation), for "a surname finds the name"."""
    words, current = [], []
    for ch in unicodedata.normalize("NFKC", visible(name)):
        if unicodedata.category(ch)[0] in ("Z", "P") or ch in "/&+":
            words.append("".join(current))
            current = []
        else:
            current.append(ch)
    words.append("".join(current))
    return [key for key in (name_key(word) for word in words) if key]


CLOSE_ENOUGH = 0.8


def key_similarity(key: str, other: str) -> float:
    """How alike two name keys are, 0..1: ``difflib``'s ratio over their letters, Hangul syllables
    taken apart into jamo (블랙핑그 and 블랙핑크 differ by one letter of twelve)."""
    return SequenceMatcher(None, decompose(key), decompose(other), autojunk=False).ratio()


def closest_name(typed: str, names: Sequence[str], other_script: bool = True) -> int | None:
    """The index in ``names`` (a search's hits, best first) of the name ``typed`` means, or ``None``.

    Search is fuzzy and nearly always answers something, so a hit is taken only when it is close to
    what was typed: the first hit with the same :func:`name_key`; else the hit whose key is most
    similar (:func:`key_similarity`, the first of equals) when that scores at least ``CLOSE_ENOUGH``;
    else, with ``other_script`` and when the typed key and the first hit's key are written in
    different scripts (their letters share no Unicode script: ``아이유`` finds ``IU``, while ``Zoé``
    is no answer to ``Adele``), the first hit, as nothing local can say better. Names typed by
    chat users pass ``other_script=False``: such a hit is only offered to them (see
    :func:`other_script_hit`). An empty typed name or no hits give ``None``.
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
    if other_script and other_script_hit(typed, names[0]):
        return 0
    return None


def other_script_hit(typed: str, name: str) -> bool:
    """True when both have letters and share no script (``아이유`` and ``IU``; not ``adele`` and ``zoé``)."""
    mine, theirs = _scripts(name_key(typed)), _scripts(name_key(name))
    return bool(mine and theirs and not mine & theirs)


def _scripts(key: str) -> set[str]:
    """The scripts of a key's letters, by the first word of their Unicode names (LATIN, HANGUL, CJK, ...)."""
    return {unicodedata.name(ch, "?").split(" ")[0] for ch in key if ch.isalpha()}
