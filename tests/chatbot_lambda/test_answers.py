"""What the chatbot answers from the mart, on a real MariaDB and on SQLite (live lookups: test_live_lookups.py)."""

from __future__ import annotations

import re
import unicodedata

import pytest

from chatbot_lambda import replies
from chatbot_lambda.answers import SHOWN_IN_REASON
from chatbot_lambda.app import SkillApp
from chatbot_lambda.settings import Settings
from tests.support.answers import request_users, requests_rows, search_terms
from tests.support.paths import FIXTURES
from tests.support.skill_calls import (
    REQUEST_KEY,
    SKILL_SECRET,
    ask,
    cards,
    headers,
    http_api_event,
    quick_replies,
    reply_of,
    rest_api_event,
    skill_body,
    tap,
    texts,
)


def strings(node):
    """Every text of a reply a user reads (texts, titles, descriptions, labels, messages)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("text", "title", "description", "label", "messageText") and isinstance(value, str):
                yield value
            elif key not in ("extra", "link", "webLinkUrl", "imageUrl"):
                yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def latin_outside(reply: dict, names: list[str]) -> list[str]:
    """The strings of a reply that hold Latin letters once the given names (whole, or cut short as a related
    card's reason quotes them) are taken out."""
    names = names + [replies.cut(name, SHOWN_IN_REASON) for name in names]
    left = []
    for text in strings(reply):
        if text.endswith("…") and any(name.startswith(text[:-1]) for name in names):
            continue  # a name cut to fit a label
        for name in sorted(names, key=len, reverse=True):
            text = text.replace(name, "")
        if re.search(r"[A-Za-z]", text):
            left.append(text)
    return left


@pytest.mark.parametrize(
    "typed",
    [
        "BLACKPINK",
        "blackpink",
        "  Black Pink \n",
        "ＢＬＡＣＫＰＩＮＫ",
        "블랙핑크",
        "블핑",
        "BLACK\u3164PINK\ufe0f",
        "\u2800블랙핑크\u034f",
    ],
)
def test_a_known_artist_by_any_spelling_or_alias(app, typed):
    reply = ask(app, typed)
    assert texts(reply) == [
        "BLACKPINK의 인기곡이에요. 비슷한 느낌의 아티스트 3명도 함께 골랐어요. 곡을 누르면 유튜브에서 들을 수 있어요."
    ]
    assert headers(reply) == ["BLACKPINK", "TWICE", "Red Velvet", "NewJeans"]
    first = cards(reply)[0]
    assert [item["title"] for item in first["items"]] == ["BLACKPINK Song 1", "BLACKPINK Song 2", "BLACKPINK Song 3"]
    assert first["items"][0]["description"] == "BLACKPINK Album"
    assert first["items"][0]["imageUrl"] == "https://i.test/bp/1"
    assert search_terms(first["items"][0]["link"]["web"]) == "BLACKPINK BLACKPINK Song 1"
    assert first["buttons"] == [
        {
            "label": "노래 더 보기",
            "action": "webLink",
            "webLinkUrl": "https://www.youtube.com/results?search_query=BLACKPINK",
        }
    ]
    related = cards(reply)[2]
    assert related["items"][0]["title"] == "비슷한 느낌의 아티스트"  # why, then the songs
    assert related["items"][0]["description"] == "BLACKPINK 노래와 분위기가 닮았어요"
    assert related["items"][0]["imageUrl"] == "https://i.test/rv"
    assert search_terms(related["items"][2]["link"]["web"]) == "Red Velvet Red Velvet Song 2"
    assert related["buttons"][1] == {
        "label": "비슷한 가수",
        "action": "message",
        "messageText": "Red Velvet",
        "extra": {"kind": "artist", "id": "rv"},
    }
    assert quick_replies(reply) == ["TWICE", "Red Velvet", "NewJeans"]


def test_walking_from_artist_to_artist_through_quick_replies_and_card_buttons(app):
    reply = ask(app, "블랙핑크")
    reply = tap(app, reply, 1)  # Red Velvet
    assert headers(reply)[0] == "Red Velvet"
    button = cards(reply)[1]["buttons"][1]  # "비슷한 가수" on TWICE's card
    reply = reply_of(app.handle(http_api_event(skill_body(button["messageText"], extra=button["extra"]))))
    assert headers(reply)[0] == "TWICE"


def test_an_artist_whose_name_is_longer_than_any_message_is_reached_from_its_quick_reply(app, served_mart):
    from tests.support.chatbot_mart import artist_row

    long = "The Royal Philharmonic Orchestra and Chorus of the Twenty-First Century " * 3
    conn = served_mart.reader()
    mark = "?" if served_mart.dialect == "sqlite" else "%s"
    cursor = conn.cursor()
    cursor.execute(
        f"INSERT INTO artists VALUES ({', '.join([mark] * 9)})", artist_row("long", long, None, None, None, 1)
    )
    cursor.execute(f"UPDATE related_artists SET related_id = {mark} WHERE artist_id = 'bp' AND `rank` = 3", ("long",))
    cursor.execute(f"INSERT INTO related_artists VALUES ({mark}, 1, {mark}, 0.1, 'sound')", ("long", "bp"))
    cursor.close()
    conn.close()
    reply = ask(app, "BLACKPINK")
    chip = reply["template"]["quickReplies"][2]
    assert len(long) > 200 and chip["extra"] == {"kind": "artist", "id": "long"}
    answer = tap(app, reply, 2)
    assert headers(answer)[0].startswith("The Royal Philharmonic") and headers(answer)[1] == "BLACKPINK"


def test_the_kakao_example_request_through_rest_and_http_api_events_plain_and_base64(app):
    body = (FIXTURES / "kakao_skill_request.json").read_text(encoding="utf-8")
    for make in (http_api_event, rest_api_event):
        for encoded in (False, True):
            reply = reply_of(app.handle(make(body, base64_body=encoded)))
            assert headers(reply)[0] == "BLACKPINK", (make.__name__, encoded)


def test_the_artist_parameter_wins_over_the_utterance(app):
    reply = reply_of(app.handle(http_api_event(skill_body("please play something like red velvet", artist="레드벨벳"))))
    assert headers(reply)[0] == "Red Velvet"


def test_generated_artists_answer_with_their_related_artists_in_rank_order(app):
    reply = ask(app, "artist 42")
    assert headers(reply) == ["Artist 42", "Artist 43", "Artist 44", "Artist 45"]
    assert [len(card["items"]) for card in cards(reply)] == [3, 4, 4, 4]  # a related card: why, then 3 songs


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("beyonce", "Beyoncé"),
        ("BEYONCE!", "Beyoncé"),
        ("tyler the creator", "Tyler, The Creator"),
        ("bach", "Johann Sebastian Bach"),  # a surname finds the full name
        ("ㅂㄹㅍㅋ", "BLACKPINK"),
        ("ㅌㅇ", "태연"),  # 초성 (of an alias, of a name)
        ("블랙핑크 노래 추천해줘", "BLACKPINK"),
        ("아이유랑 비슷한 가수", "IU"),
        ("songs like Red Velvet", "Red Velvet"),
        ("뉴진스 같은 노래 들려줘", "NewJeans"),
        ("I love TWICE", "TWICE"),
        ("태연의 노래", "태연"),
    ],
)
def test_names_as_people_type_them(app, typed, expected):
    assert headers(ask(app, typed))[0] == expected


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("blakpink", "BLACKPINK"),
        ("redvelvit", "Red Velvet"),
        ("레드벨벹", "Red Velvet"),
        ("Artst 123", "Artist 123"),
        ("newjean", "NewJeans"),
        ("twicee", "TWICE"),
        ("블랙핑그", "BLACKPINK"),
        ("아이우", "IU"),  # one letter off inside a Hangul syllable
        ("태욘", "태연"),
        ("뉴진슨", "NewJeans"),  # two- and three-syllable names
        ("ㅌㅇㅇ", "TWICE"),  # the start of 초성: suggested
    ],
)
def test_a_near_miss_proposes_the_closest_names_as_quick_replies(app, served_mart, typed, expected):
    reply = ask(app, typed)
    assert quick_replies(reply)[0] == expected, quick_replies(reply)
    assert texts(reply) == [f"‘{typed}’, 혹시 {expected} 찾으셨나요? 아래에서 눌러 보세요."] and cards(reply) == []
    assert len(quick_replies(reply)) <= 5
    assert reply["template"]["quickReplies"][0]["extra"]["kind"] == "artist"
    # Without Spotify to ask, the name is still noted for the next batch (a new artist may have a close
    # name), but the reply promises nothing.
    assert [(spotify_id, times) for _, _, spotify_id, times in requests_rows(served_mart)] == [(None, 1)]


def test_a_latin_typo_of_a_latin_name_is_suggested_not_promised(app, served_mart, caplog):
    """ "rasowa rawq" (the demo's Rasowa Rawa) was answered "다음 업데이트 때 찾아 둘게요": suggestions
    were shown, but under the promise."""
    caplog.set_level("INFO", "chatbot_lambda")
    reply = ask(app, "artist 12q")
    assert texts(reply) == ["‘artist 12q’, 혹시 Artist 12 찾으셨나요? 아래에서 눌러 보세요."]
    assert "업데이트" not in texts(reply)[0] and quick_replies(reply)[0] == "Artist 12"
    assert [name for _, name, _, _ in requests_rows(served_mart)] == ["artist 12q"]  # noted, not promised
    assert [r.outcome for r in caplog.records if hasattr(r, "outcome")] == ["suggested"]
    reply = ask(app, "qqqqqqqqqqqq")  # nothing close: still noted for the next update
    assert texts(reply)[0].startswith("‘qqqqqqqqqqqq’ 아티스트는 아직 몰라요. 다음 업데이트 때 찾아 둘게요.")


@pytest.mark.parametrize(
    "typed, echoed",
    [
        ("ㄴㄹㅂ", "ㄴㄹㅂ"),
        ("ㄴㄹㅂ 노래 추천해줘", "ㄴㄹㅂ"),
        ("ＮＥＷ ＢＡＮＤ", "ＮＥＷ ＢＡＮＤ"),
        ("새밴드랑 비슷한 가수", "새밴드"),
    ],
)
def test_what_was_typed_is_quoted_back_as_typed_and_recorded_normalized(app, served_mart, typed, echoed):
    """A 초성 query was quoted back as conjoining jamo (U+1100..., what NFKC makes of ㄴㄹㅂ): the user
    sees what they typed (compatibility jamo, U+3131...), the mart keeps the normalized name."""
    text = texts(ask(app, typed))[0]
    assert text.startswith(f"‘{echoed}’ 아티스트는 아직 몰라요."), text
    assert not any("\u1100" <= ch <= "\u11ff" for ch in text)
    assert [row[1] for row in requests_rows(served_mart)] == [unicodedata.normalize("NFKC", echoed)]


def test_nothing_close_proposes_popular_artists_in_one_clear_message(app):
    reply = ask(app, "qqqqqqqqqqqq")
    assert texts(reply) == [
        "‘qqqqqqqqqqqq’ 아티스트는 아직 몰라요. 다음 업데이트 때 찾아 둘게요. 그동안 아래 인기 아티스트를 들어 보세요."
    ]
    assert quick_replies(reply)[:3] == ["BLACKPINK", "IU", "NewJeans"]


def test_an_empty_message_small_talk_and_thanks_get_a_hint_and_are_never_recorded(app, served_mart):
    for typed in ("", "   \n", "!!!", "🎵🎵", "노래 추천해줘"):
        reply = ask(app, typed)
        assert texts(reply)[0].startswith("좋아하는 가수나 그룹 이름을 보내 주세요"), typed
        assert "BLACKPINK" in quick_replies(reply)
    for typed in ("안녕하세요", "ㅋㅋㅋㅋ", "ㅎㅎ", "ㅠㅠ", "hello"):
        assert texts(ask(app, typed))[0].startswith("반가워요!"), typed
    assert texts(ask(app, "고마워요"))[0].startswith("천만에요")
    assert requests_rows(served_mart) == []


INVISIBLE_ONLY = [
    "\u3164",
    "\u115f\u1160",
    "\uffa0",
    "\u2800",
    "\ufe0f",
    "\u034f",
    "\u3164 \u2800\ufe0f\u034f\u200b\n",
    "\U000e0100\u180b\u17b4",
]


@pytest.mark.parametrize("typed", INVISIBLE_ONLY)
def test_a_message_of_invisible_characters_only_is_an_empty_message(app, served_mart, typed):
    reply = ask(app, typed)
    assert texts(reply)[0].startswith("좋아하는 가수나 그룹 이름을 보내 주세요"), typed
    assert requests_rows(served_mart) == []


def test_invisible_characters_are_neither_searched_nor_recorded_nor_quoted(app, served_mart):
    reply = ask(app, "\u3164Some\u3164New\u2800Band\ufe0f\u034f")
    assert texts(reply)[0].startswith("‘Some New Band’ 아티스트는 아직 몰라요.")
    assert requests_rows(served_mart) == [("somenewband", "Some New Band", None, 1)]


def test_an_unknown_name_without_live_lookups_is_queued_by_name_with_distinct_users_hashed(signed_app, served_mart):
    ask(signed_app, "Some New Band", user="kakao-user-1")
    ask(signed_app, "Some New Band 노래 추천해줘", user="kakao-user-1")
    reply = ask(signed_app, "some new band ", user="kakao-user-2")
    assert texts(reply)[0].startswith("‘some new band’ 아티스트는 아직 몰라요. 다음 업데이트 때 찾아 둘게요.")
    assert "확인" not in texts(reply)[0]  # one message: noted, not "check the spelling"
    assert requests_rows(served_mart) == [("somenewband", "some new band", None, 3)]
    users = request_users(served_mart)
    assert len(users) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", h) for _, h in users)
    assert not any("kakao-user" in h for _, h in users)


def test_an_unsigned_endpoint_records_names_but_never_users(app, served_mart):
    """Without a skill secret anyone can claim any user id: names are recorded, users are not counted
    (requests are not ranked by made-up users)."""
    for user in range(12):
        ask(app, "Junk Name", user=f"made-up-{user}")
    assert requests_rows(served_mart) == [("junkname", "Junk Name", None, 12)]
    assert request_users(served_mart) == []


def test_english_when_the_request_or_the_configuration_says_so(app, skill_env):
    reply = ask(app, "BLACKPINK", lang="en")
    assert texts(reply)[0] == "BLACKPINK: top songs, then 3 artists that sound alike. Tap a song to hear it."
    assert [b["label"] for b in cards(reply)[1]["buttons"]] == ["Songs", "Similar"]
    english = SkillApp(Settings.from_env({**skill_env, "LANGUAGE": "en"}))
    assert texts(ask(english, "qqqqqqqq"))[0].startswith("I don't know ‘qqqqqqqq’ yet")
    english.repository.close()


def test_each_related_card_says_why_it_was_chosen_in_korean_and_in_english(app):
    """IU's related artists were chosen by listeners, by both, by sound (tests/support/chatbot_mart.py)."""
    reply = ask(app, "아이유")
    assert headers(reply) == ["IU", "NewJeans", "Red Velvet", "TWICE"]
    assert texts(reply)[0] == (
        "IU의 인기곡이에요. 함께 들어 볼 아티스트 3명도 골랐어요. 카드마다 고른 이유를 적어 두었어요. "
        "곡을 누르면 유튜브에서 들을 수 있어요."
    )
    assert [(card["items"][0]["title"], card["items"][0]["description"]) for card in cards(reply)[1:]] == [
        ("함께 많이 듣는 아티스트", "IU 팬들이 즐겨 들어요"),
        ("함께 듣고 느낌도 비슷해요", "IU 팬들이 즐겨 듣고 분위기도 닮았어요"),
        ("비슷한 느낌의 아티스트", "IU 노래와 분위기가 닮았어요"),
    ]
    reply = ask(app, "IU", lang="en")
    assert texts(reply)[0] == "IU: top songs, then 3 artists to try, each card saying why. Tap a song to hear it."
    assert [(card["items"][0]["title"], card["items"][0]["description"]) for card in cards(reply)[1:]] == [
        ("Fans also listen", "Loved by IU fans"),
        ("Same fans, same vibe", "Loved by IU fans, and sounds alike"),
        ("Sounds similar", "Sounds like IU"),
    ]


def test_korean_replies_hold_no_english_but_names(app):
    names = [
        "BLACKPINK",
        "TWICE",
        "Red Velvet",
        "NewJeans",
        "IU",
        "Beyoncé",
        "Tyler, The Creator",
        "Johann Sebastian Bach",
        "Some Band",
        "태연",
    ]
    names += [f"{n} Song {r}" for n in names for r in (1, 2, 3)] + [f"{n} Album" for n in names]
    names += [f"Artist {i}" for i in range(200)]
    for typed in ("블랙핑크", "blakpink", "Some Band", "안녕하세요", "", "x" * 500, "bach", "ㅌㅇ"):
        reply = ask(app, typed)
        assert latin_outside(reply, names + [typed]) == [], typed


def test_suggestions_find_close_names_among_many_sharing_common_pieces(any_mart):
    """20,000 "Artist N" names all share "artist": the names next to the typed key, by key and backwards,
    are the close ones."""
    from tests.support import chatbot_mart

    conn = any_mart.reader()
    chatbot_mart.fill(conn, any_mart.dialect, 20_000)
    conn.close()
    skill = SkillApp(
        Settings.from_env(
            {
                "REQUEST_KEY": REQUEST_KEY,
                "MART_URL": any_mart.url,
                "MART_USER": any_mart.user,
                "MART_PASSWORD": any_mart.password,
            }
        )
    )
    try:
        for typed, expected in (
            ("Artst 123", "Artist 123"),
            ("artist 1234x", "Artist 1234"),
            ("Artist 19999x", "Artist 19999"),
            ("Arist 7", "Artist 7"),
        ):
            assert quick_replies(ask(skill, typed))[0] == expected, typed
    finally:
        skill.repository.close()


def _chatbot(skill_env, **env) -> SkillApp:
    return SkillApp(Settings.from_env({**skill_env, **env}))


def test_one_user_adds_at_most_their_quota_of_new_names_a_day(skill_env, served_mart, caplog):
    """One user id filled the 10,000-row table in 14 s and kept it full; now each user adds at most
    MAX_NEW_NAMES_PER_USER new names in 24 hours, and every name not kept is logged and counted."""
    app = _chatbot(skill_env, SKILL_SECRET=SKILL_SECRET, MAX_NEW_NAMES_PER_USER="3")
    try:
        for number in range(6):
            ask(app, f"Flood Name {number}", user="flooder")
        ask(app, "Flood Name 0", user="flooder")  # asking again for a name already there: counted
        ask(app, "A Real Request", user="fan")
        assert [row[0] for row in requests_rows(served_mart)] == [
            "arealrequest",
            "floodname0",
            "floodname1",
            "floodname2",
        ]
        assert app.repository.dropped["over_quota"] == 3
        assert caplog.text.count("not kept (over_quota: this user added 3 new names in 24 hours)") == 3
    finally:
        app.repository.close()


def test_made_up_user_ids_on_an_unsigned_endpoint_share_one_quota(skill_env, served_mart):
    app = _chatbot(skill_env, MAX_NEW_NAMES_PER_USER="2")  # unsigned: 10 users' worth, for all of them
    try:
        for number in range(25):
            ask(app, f"Junk {number:02}", user=f"made-up-{number}")
        assert len(requests_rows(served_mart)) == 20 and request_users(served_mart) == []
        assert app.repository.dropped["over_quota"] == 5
    finally:
        app.repository.close()


def test_a_full_table_makes_room_from_the_fewest_users_and_the_oldest_ask(skill_env, served_mart, caplog):
    app = _chatbot(skill_env, SKILL_SECRET=SKILL_SECRET, MAX_REQUESTS="3")
    try:
        for user in ("fan-1", "fan-2", "fan-3"):
            ask(app, "Wanted Band", user=user)  # three users
        ask(app, "Old Junk", user="someone")  # one user, asked first
        ask(app, "New Junk", user="someone")  # one user, asked later
        ask(app, "Newest Name", user="another")  # the table is full: the weakest gives way
        assert [row[0] for row in requests_rows(served_mart)] == ["newestname", "newjunk", "wantedband"]
        assert {key for key, _ in request_users(served_mart)} == {"newestname", "newjunk", "wantedband"}
        assert app.repository.dropped["gave_way"] == 1
        assert "request 'oldjunk' not kept (gave_way: to 'newestname': the table holds MAX_REQUESTS=3" in caplog.text
    finally:
        app.repository.close()
