"""Hangul letters (jamo): syllables taken apart, and their initial consonants (초성).

A precomposed syllable U+AC00..U+D7A3 is ``((initial * 21) + vowel) * 28 + final``: 19 initial
consonants, 21 vowels, 27 finals (or none). Typed compatibility jamo (ㅂ, ㅏ, U+3131..U+3163) become
conjoining jamo (U+1100..) under NFKC, which is how they reach these functions inside a name key.
"""

from __future__ import annotations

SYLLABLES = range(0xAC00, 0xD7A4)
INITIALS = range(0x1100, 0x1113)  # the 19 conjoining initial consonants (choseong)
_VOWEL0, _FINAL0 = 0x1161, 0x11A7


def is_syllable(ch: str) -> bool:
    return ord(ch) in SYLLABLES


def decompose(text: str) -> str:
    """``text`` with each Hangul syllable replaced by its two or three conjoining jamo."""
    if not any(is_syllable(ch) for ch in text):
        return text
    out = []
    for ch in text:
        code = ord(ch) - SYLLABLES.start
        if 0 <= code < len(SYLLABLES):
            initial, rest = divmod(code, 588)
            vowel, final = divmod(rest, 28)
            out.append(chr(INITIALS.start + initial) + chr(_VOWEL0 + vowel) + (chr(_FINAL0 + final) if final else ""))
        else:
            out.append(ch)
    return "".join(out)


def initials_of(text: str) -> str:
    """The initial consonant of each Hangul syllable in ``text`` (other characters are left out)."""
    return "".join(chr(INITIALS.start + (ord(ch) - SYLLABLES.start) // 588) for ch in text if is_syllable(ch))


def only_initials(key: str) -> bool:
    """True for a key typed as initial consonants only (``ㅂㅌㅅㄴㄷ`` after NFKC), two or more."""
    return len(key) >= 2 and all(ord(ch) in INITIALS for ch in key)
