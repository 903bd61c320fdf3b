"""Words of requests, not of names ("노래", "추천해줘", "songs" ...), and the Korean particles that
follow a name inside a sentence ("아이유랑", "블랙핑크의").

The chatbot sets request words aside to find the name a sentence asks about
(``chatbot_lambda.utterance``); the ingest refuses to learn an alias that holds one
(``jobs.sources.learned_aliases``): "BLACKPINK 노래" is a request about BLACKPINK, never its name.
Words are compared by name key (``shared.names.name_key``), after a particle is taken off.
"""

from __future__ import annotations

import unicodedata

from shared.names import name_key

REQUEST_WORDS = frozenset(
    name_key(word)
    for word in """
노래 노래들 곡 곡들 음악 플리 플레이리스트 추천 추천해 추천해줘 추천해줘요 추천해주세요 추천좀 추천 좀 해줘 해줘요 해주세요
주세요 줘 줘요 비슷한 비슷한거 비슷한것 비슷한 비슷하게 가수 가수들 아티스트 아티스트들 그룹 밴드 같은 같은거 스타일
느낌 계열 좋아해 좋아해요 좋아 좋아요 사랑해 들려줘 들려줘요 알려줘 알려줘요 알려주세요 찾아줘 찾아줘요 틀어줘 틀어줘요
뭐 뭐야 있어 있어요 신곡 최신곡 인기곡 명곡 대표곡 검색 듣고 듣고싶어 싶어 싶어요 나 저 제가 내가 요즘
like likes love songs song similar recommend recommendation recommendations please tracks i me
""".split()
)

# Korean particles that follow a name inside a sentence, longest first.
PARTICLES = (
    "이랑",
    "하고",
    "처럼",
    "같은",
    "이나",
    "으로",
    "에게",
    "한테",
    "랑",
    "의",
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "도",
    "만",
    "로",
    "나",
)


def without_particle(word: str) -> str:
    """``word`` without the particle it ends with (``아이유랑`` -> ``아이유``), when a name is left."""
    for particle in PARTICLES:
        if word.endswith(particle) and len(word) > len(particle) + 1:
            return word[: -len(particle)]
    return word


def is_request_word(word: str) -> bool:
    """Whether ``word`` (one word) is a request word, with or without a particle after it."""
    return name_key(word) in REQUEST_WORDS or name_key(without_particle(word)) in REQUEST_WORDS


def request_words_in(text: str) -> list[str]:
    """The words of ``text`` that are request words (``"BLACKPINK 노래"`` -> ``["노래"]``)."""
    return [word for word in unicodedata.normalize("NFKC", text or "").split() if is_request_word(word)]
