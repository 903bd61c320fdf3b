"""What a message asks for: a name, a name inside a sentence ("BTS 노래 추천해줘"), or small talk.

The mart decides which name a sentence holds: :func:`read` lists the keys of every run of words
(longest first, with Korean particles taken off the last word), and the lookup takes the longest
that is a known name or alias. What is searched and recorded when the mart knows none is
``Utterance.name``: the words left once common request words (노래, 추천, 비슷한 가수, 같은,
좋아해, "like", "songs", ...) and particles are set aside, never the whole sentence. A message
without request words is taken whole, as a name. A message that is all greetings, thanks or
laughter (as a whole, or word by word: ``안녕하세요 ㅎㅎ``) is small talk: never searched nor recorded.
A name that reads as a Korean sentence (``배고파요``, ``사랑해요``, ``뭐 먹지?``: :func:`reads_as_sentence`)
is answered only when the mart knows one of its keys; it is never searched nor recorded.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from shared.names import legacy_key, name_key
from shared.request_words import is_request_word, without_particle

MAX_WORDS_IN_NAME = 6
MAX_CANDIDATES = 40

# Small talk: answered with a hint, never searched or recorded (when no artist has that name).
SMALL_TALK = {
    "small_talk": "안녕 안녕하세요 안녕하십니까 하이 하이요 방가 반가워 반가워요 반갑습니다 hi hello hey 헬로 ㅎㅇ 여보세요 "
    "누구야 누구세요 뭐해 심심해 ㅇㅇ 응 네 넵 예 아니 아니요 아니에요 아니야 ok 오케이 "
    "하이루 안뇽 안뇽하세요 방가방가 ㅎㅇㅎㅇ 굿모닝 좋은아침 좋은아침이에요 좋은아침입니다 좋은밤 굿밤 잘자 잘자요 "
    "뭐해요 심심해요 ㅇㅋ ㅇㅋㅇㅋ 오키 오키오키 ㄴㄴ 아하",
    "thanks": "고마워 고마워요 고맙습니다 감사 감사해요 감사합니다 땡큐 ㄳ ㄱㅅ thanks thankyou thx",
    "welcome": "도움말 help 시작 처음 처음으로 메뉴 사용법 도와줘 뭐할수있어",
}
_SMALL_TALK_KEYS = {name_key(word): kind for kind, words in SMALL_TALK.items() for word in words.split()}
# Laughter and crying typed as bare letters: ㅋㅋㅋ, ㅎㅎ, ㅠㅠ, ㅜㅜ (conjoining jamo after NFKC), also 하하, 호호.
_LAUGHTER = re.compile(r"^[\u110f\u1112\u1172\u116e\u1173.!~?]+$|^(하|호|히|헤|크|키)\1+$")
_LAUGHTER_AFTER = re.compile(r"[\u110f\u1112\u1172\u116e\u1173]+$")  # 안녕하세요ㅎㅎ
_KIND_ORDER = ("thanks", "welcome", "small_talk")  # a message mixing kinds is answered as the first


@dataclass(frozen=True)
class Utterance:
    text: str  # the message, trimmed
    name: str  # the name it asks about (request words set aside)
    keys: list[str] = field(default_factory=list)  # lookup keys, whole message and runs of words
    sentence: bool = False  # request words were set aside
    small_talk: str | None = None  # "small_talk", "thanks" or "welcome" when it is only that
    says_something: bool = False  # the name reads as a Korean sentence: never searched
    typed: str = ""  # the name as the user typed it (not normalized): to quote back


# A Korean sentence ends in a verb ending (배고파요, 좋다, 할까), or asks (뭐해?, 있어?): never a name to look up.
_VERB_ENDINGS = ("요", "다", "까", "죠", "냐")
_QUESTION_ENDINGS = _VERB_ENDINGS + ("어", "아", "지", "해", "야", "니", "나", "래")
_TRAILING = ".!~?？…ㅋㅎㅠㅜ\u110f\u1112\u1172\u116e"


def _hangul_syllables(word: str) -> int:
    return sum(1 for ch in word if "\uac00" <= ch <= "\ud7a3")


def reads_as_sentence(name: str, text: str | None = None) -> bool:
    """Whether ``name`` (what a message would search for; ``text``, the whole message) reads as a
    Korean sentence rather than a name: its last word is Hangul of two syllables or more ending in a
    verb ending (-요, -다, -까, -죠, -냐), or the message is a question (ends with ``?``) whose last
    word ends like a spoken question (뭐해?, 배고파?). Names are looked up in the mart first, so a
    known artist or alias that ends so is still answered."""
    words = unicodedata.normalize("NFKC", name).split()
    if not words:
        return False
    last = words[-1].rstrip(_TRAILING)
    if _hangul_syllables(last) < 2 and not (len(words) > 1 and _hangul_syllables(last) == 1):
        return False
    if last.endswith(_VERB_ENDINGS):
        return True
    asked = unicodedata.normalize("NFKC", text if text is not None else name).rstrip().rstrip(".!~ㅋㅎㅠㅜ")
    return asked.endswith(("?", "？")) and last.endswith(_QUESTION_ENDINGS)


def small_talk(key: str) -> str | None:
    """``"small_talk"``, ``"thanks"`` or ``"welcome"`` for a key that is only that (laughter may
    follow it: ``안녕하세요ㅎㅎ``); else ``None``."""
    for candidate in (key, _LAUGHTER_AFTER.sub("", key)):
        if candidate in _SMALL_TALK_KEYS:
            return _SMALL_TALK_KEYS[candidate]
    return "small_talk" if _LAUGHTER.match(key) else None


def small_talk_of(words: list[str]) -> str | None:
    """The kind of small talk a message is when the whole of it, or every word of it, is small talk
    (``안녕하세요 ㅎㅎ``, ``ㅋㅋㅋ 고마워요``); else ``None``."""
    whole = small_talk(name_key("".join(words)))
    if whole or len(words) < 2:
        return whole
    kinds = {small_talk(key) for key in (name_key(word) for word in words) if key}
    if not kinds or None in kinds:
        return None
    return next(kind for kind in _KIND_ORDER if kind in kinds)


def _words(text: str) -> tuple[list[str], list[str]]:
    """The words of ``text`` NFKC-normalized (for matching), and each as typed (for quoting back: a typed
    ㄴㄹㅂ stays compatibility jamo, not the conjoining jamo NFKC makes of it)."""
    words, typed = [], []
    for raw in text.split():
        parts = unicodedata.normalize("NFKC", raw).split()
        words += parts
        typed += [raw] if len(parts) == 1 else parts
    return words, typed


def _as_typed(raw: str, word: str, stripped: str) -> str:
    """``raw`` (a word as typed, ``word`` its NFKC form) without the particle :func:`without_particle` took
    off ``word`` (leaving ``stripped``): as typed where the same ending can be cut off, else ``stripped``."""
    if stripped == word:
        return raw
    cut = raw[: len(raw) - (len(word) - len(stripped))]
    return cut if unicodedata.normalize("NFKC", cut) == stripped else stripped


def read(text: str) -> Utterance:
    """The name ``text`` asks about and the keys to look up (see the module docstring). ``text`` is
    already as ``shared.names.visible`` gives it: the caller strips invisible characters, once."""
    words, as_typed = _words(text)
    keys = [name_key(text), legacy_key(text)]
    kept = [word for word in words if not is_request_word(word)]
    sentence = len(kept) < len(words)
    says_something = reads_as_sentence(" ".join(kept) if sentence else text, text)
    spans = []
    for size in range(min(len(words), MAX_WORDS_IN_NAME) if sentence or says_something else 0, 0, -1):
        for start in range(len(words) - size + 1):
            run = words[start : start + size]
            if all(is_request_word(word) for word in run):
                continue
            spans.append(name_key("".join(run)))
            spans.append(name_key("".join(run[:-1]) + without_particle(run[-1])))
    keys += sorted(dict.fromkeys(spans), key=len, reverse=True)
    typed = [raw for raw, word in zip(as_typed, words) if not is_request_word(word)]
    if sentence and kept:
        stripped = without_particle(kept[-1])
        typed[-1] = _as_typed(typed[-1], kept[-1], stripped)
        kept[-1] = stripped
        if len(kept) == 1:
            stripped = without_particle(kept[0])
            typed[0] = _as_typed(typed[0], kept[0], stripped)
            kept[0] = stripped
    name = " ".join(kept) if kept else ("" if sentence else text)
    shown = " ".join(typed) if kept else ("" if sentence else text)
    return Utterance(
        text=text,
        name=name,
        keys=list(dict.fromkeys(k for k in keys if k))[:MAX_CANDIDATES],
        sentence=sentence,
        small_talk=small_talk_of(words),
        says_something=bool(name) and says_something,
        typed=shown,
    )
