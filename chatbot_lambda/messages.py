"""Every sentence and label a user sees, in Korean (polite 해요체, the default) and in English.

One catalog, each entry's two languages side by side, so that a reviewer reads them together.
``{placeholders}`` take artist names and what the user typed; Korean sentences are written so that
no particle has to agree with a name (a name may be Latin, Hangul or anything else). Labels (buttons,
quick replies) stay within Kakao's limits (``replies.MAX_LABEL``, ``MAX_LABEL_PAIR``).
"""

from __future__ import annotations

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"

CATALOG: dict[str, dict[str, str]] = {
    # -- answers --------------------------------------------------------------------------------------
    "known": {
        "ko": "{artist}의 인기곡이에요. 비슷한 느낌의 아티스트 {count}명도 함께 골랐어요. 곡을 누르면 유튜브에서 들을 수 있어요.",
        "en": "{artist}: top songs, then {count} artists that sound alike. Tap a song to hear it.",
    },
    "known_mixed": {
        "ko": "{artist}의 인기곡이에요. 함께 들어 볼 아티스트 {count}명도 골랐어요. 카드마다 고른 이유를 적어 두었어요. "
        "곡을 누르면 유튜브에서 들을 수 있어요.",
        "en": "{artist}: top songs, then {count} artists to try, each card saying why. Tap a song to hear it.",
    },
    "known_alone": {
        "ko": "{artist}의 인기곡이에요. 비슷한 아티스트는 다음 업데이트 뒤에 알려 드릴게요.",
        "en": "{artist}: top songs. Artists that sound alike come after the next update.",
    },
    "live": {
        "ko": "{artist}의 곡을 스포티파이에서 찾아왔어요. 비슷한 아티스트는 다음 업데이트 뒤에 알려 드릴게요.",
        "en": "{artist} is new to me: here are their songs from Spotify. Artists that sound alike come "
        "after the next update.",
    },
    "learned": {
        "ko": "고마워요! ‘{typed}’(이)라는 이름은 확인을 거쳐 반영할게요.",
        "en": "Thanks! Once it's checked, ‘{typed}’ will find them too.",
    },
    "offer": {
        "ko": "‘{typed}’, 혹시 {artist} 말씀이세요? 맞으면 ‘네, 맞아요’를 눌러 주세요.",
        "en": "By ‘{typed}’, do you mean {artist}? Tap ‘Yes, that's it’ if so.",
    },
    "declined": {
        "ko": "알겠어요. 이름을 조금 다르게 적어 보시거나 아래 아티스트를 눌러 보세요.",
        "en": "All right. Try writing the name another way, or tap one of these artists.",
    },
    "did_you_mean": {
        "ko": "‘{typed}’, 혹시 {artist} 찾으셨나요? 아래에서 눌러 보세요.",
        "en": "By ‘{typed}’, did you mean {artist}? Tap it below.",
    },
    "not_found_suggest": {
        "ko": "‘{typed}’에 맞는 아티스트를 찾지 못했어요. 혹시 이 중에 있나요?",
        "en": "I couldn't find an artist called ‘{typed}’. Is it one of these?",
    },
    "not_found": {
        "ko": "‘{typed}’에 맞는 아티스트를 찾지 못했어요. 이름을 확인해서 다시 보내 주시거나 아래 인기 아티스트를 눌러 보세요.",
        "en": "I couldn't find an artist called ‘{typed}’. Check the name and send it again, or tap a "
        "popular artist below.",
    },
    "queued_suggest": {
        "ko": "‘{typed}’ 아티스트는 아직 몰라요. 다음 업데이트 때 찾아 둘게요. 혹시 이 중에 찾으시는 아티스트가 있나요?",
        "en": "I don't know ‘{typed}’ yet; I'll look for them in the next update. Is it one of these?",
    },
    "queued": {
        "ko": "‘{typed}’ 아티스트는 아직 몰라요. 다음 업데이트 때 찾아 둘게요. 그동안 아래 인기 아티스트를 들어 보세요.",
        "en": "I don't know ‘{typed}’ yet; I'll look for them in the next update. Meanwhile, try one of "
        "these popular artists.",
    },
    "unknown_suggest": {
        "ko": "‘{typed}’ 아티스트는 아직 몰라요. 혹시 이 중에 찾으시는 아티스트가 있나요?",
        "en": "I don't know ‘{typed}’ yet. Is it one of these?",
    },
    "unknown": {
        "ko": "‘{typed}’ 아티스트는 아직 몰라요. 그동안 아래 인기 아티스트를 들어 보세요.",
        "en": "I don't know ‘{typed}’ yet. Meanwhile, try one of these popular artists.",
    },
    "welcome": {
        "ko": "좋아하는 가수나 그룹 이름을 보내 주세요. 인기곡과 함께 비슷한 느낌의 아티스트를 알려 드릴게요.",
        "en": "Send me the name of a singer or a band you like: I'll show you their top songs and artists "
        "that sound alike.",
    },
    "small_talk": {
        "ko": "반가워요! 좋아하는 가수나 그룹 이름을 보내 주시면 인기곡과 비슷한 아티스트를 찾아 드릴게요.",
        "en": "Hello! Send me a singer's or a band's name and I'll find their top songs and artists that sound alike.",
    },
    "thanks": {"ko": "천만에요! 다른 아티스트도 찾아볼까요?", "en": "You're welcome! Shall we look up another artist?"},
    "sentence": {
        "ko": "아티스트 이름을 찾지 못했어요. 좋아하는 가수나 그룹 이름을 보내 주시면 인기곡과 비슷한 아티스트를 알려 드릴게요.",
        "en": "I didn't find an artist's name in that. Send me a singer's or a band's name and I'll show you "
        "their top songs and artists that sound alike.",
    },
    "too_long": {
        "ko": "메시지가 너무 길어요. 아티스트 이름만 짧게 보내 주세요.",
        "en": "That's a long message. Please send just the artist's name.",
    },
    "mart_down": {
        "ko": "지금은 음악 목록을 불러오지 못했어요. 잠시 뒤에 다시 시도해 주세요.",
        "en": "Sorry, my music shelf is out of reach right now. Please try again in a moment.",
    },
    "sorry": {
        "ko": "죄송해요, 메시지를 읽지 못했어요. 아티스트 이름을 보내 주시면 인기곡을 알려 드릴게요.",
        "en": "Sorry, I could not read that message. Send an artist's name to get their top songs.",
    },
    # -- labels ---------------------------------------------------------------------------------------
    "button_more_songs": {"ko": "노래 더 보기", "en": "More songs"},  # alone on a card: 14 at most
    "button_songs": {"ko": "노래 더 보기", "en": "Songs"},  # side by side: 8 at most
    "button_similar": {"ko": "비슷한 가수", "en": "Similar"},  # side by side: 8 at most
    "item_search": {"ko": "유튜브에서 찾아보기", "en": "Search on YouTube"},
    # Why a related artist was chosen (related_artists.reason): the first line of its card, then a note
    # naming the artist asked about (cut short by answers.SHOWN_IN_REASON).
    "item_reason_sound": {"ko": "비슷한 느낌의 아티스트", "en": "Sounds similar"},
    "item_reason_sound_note": {"ko": "{artist} 노래와 분위기가 닮았어요", "en": "Sounds like {artist}"},
    "item_reason_listeners": {"ko": "함께 많이 듣는 아티스트", "en": "Fans also listen"},
    "item_reason_listeners_note": {"ko": "{artist} 팬들이 즐겨 들어요", "en": "Loved by {artist} fans"},
    "item_reason_both": {"ko": "함께 듣고 느낌도 비슷해요", "en": "Same fans, same vibe"},
    "item_reason_both_note": {
        "ko": "{artist} 팬들이 즐겨 듣고 분위기도 닮았어요",
        "en": "Loved by {artist} fans, and sounds alike",
    },
    "reply_yes": {"ko": "네, 맞아요", "en": "Yes, that's it"},
    "reply_no": {"ko": "아니에요", "en": "No"},
    "reply_retry": {"ko": "다시 시도", "en": "Try again"},
    "reply_help": {"ko": "도움말", "en": "Help"},
}


def language(requested: str | None, configured: str = DEFAULT_LANGUAGE) -> str:
    """The reply language: English when the request's ``userRequest.lang`` or the configuration says
    so, else Korean."""
    wanted = (requested or "").strip().lower()
    return "en" if wanted.startswith("en") or configured == "en" else "ko"


class Messages:
    """The catalog in one language: ``Messages("ko").say("known", artist="IU", count=3)``."""

    def __init__(self, lang: str = DEFAULT_LANGUAGE):
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}: one of {', '.join(LANGUAGES)}")
        self.lang = lang

    def say(self, key: str, **values) -> str:
        return CATALOG[key][self.lang].format(**values)
