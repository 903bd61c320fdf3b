"""The chatbot's small parts on their own: reply builders and limits, matching, events, the budget."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from chatbot_lambda import apigw, matching, replies
from chatbot_lambda.answers import SHOWN_IN_REASON, artist_card, known_reply, shown
from chatbot_lambda.budget import Deadline, OutOfTime
from chatbot_lambda.kakao import BadSkillRequest, SkillRequest
from chatbot_lambda.messages import CATALOG, Messages, language
from chatbot_lambda.replies import Button, ListItem
from mart.serving import ArtistCard, Track
from mart.suggest import Candidate
from tests.support.paths import REPO

SHAPE = REPO.parent / "shared" / "examples" / "kakao_skill_response_shape.json"


def test_the_design_example_reply_passes_the_checks_and_broken_ones_do_not():
    example = json.loads(SHAPE.read_text(encoding="utf-8"))
    assert replies.problems(example) == []
    card = example["template"]["outputs"][1]["carousel"]["items"][0]
    broken = {
        "four outputs": {"version": "2.0", "template": {"outputs": [{"simpleText": {"text": "a"}}] * 4}},
        "long text": {"version": "2.0", "template": {"outputs": [{"simpleText": {"text": "a" * 1001}}]}},
        "six cards": {
            "version": "2.0",
            "template": {"outputs": [{"carousel": {"type": "listCard", "items": [card] * 6}}]},
        },
        "five items": {
            "version": "2.0",
            "template": {
                "outputs": [{"carousel": {"type": "listCard", "items": [{**card, "items": card["items"] * 5}]}}]
            },
        },
        "no header": {
            "version": "2.0",
            "template": {
                "outputs": [
                    {"carousel": {"type": "listCard", "items": [{k: v for k, v in card.items() if k != "header"}]}}
                ]
            },
        },
        "two long labels": {
            "version": "2.0",
            "template": {
                "outputs": [{"carousel": {"type": "listCard", "items": [{**card, "buttons": card["buttons"] * 2}]}}]
            },
        },
        "eleven quick replies": {
            **example,
            "template": {**example["template"], "quickReplies": example["template"]["quickReplies"] * 11},
        },
        "version 1": {**example, "version": "1.0"},
    }
    for name, reply in broken.items():
        assert replies.problems(reply), name


def test_builders_cut_whatever_would_break_a_limit():
    item = ListItem("t" * 300, "d" * 300, "https://i.test/x", "https://y.test")
    card = replies.list_card("h" * 300, [item] * 9, [Button("A very long button label", "https://a.test")] * 3)
    reply = replies.skill_response(
        [
            replies.simple_text("x" * 5000),
            replies.list_card_carousel([card] * 8),
            replies.simple_text("c"),
            replies.simple_text("d"),
        ],
        [f"Artist number {i} with a long name" for i in range(15)],
    )
    assert replies.problems(reply) == []
    outputs = reply["template"]["outputs"]
    assert len(outputs) == 3 and len(outputs[0]["simpleText"]["text"]) == 1000
    cards = outputs[1]["carousel"]["items"]
    assert len(cards) == 5 and len(cards[0]["items"]) == 4
    assert [b["label"] for b in cards[0]["buttons"]] == ["A very…", "A very…"]  # side by side: 8 at most
    assert len(reply["template"]["quickReplies"]) == 10
    assert reply["template"]["quickReplies"][0] == {
        "label": "Artist number…",
        "action": "message",
        "messageText": "Artist number 0 with a long name",
    }


KO, EN = Messages("ko"), Messages("en")


def test_an_artist_without_tracks_still_gets_a_valid_card():
    card = artist_card(EN, "No Tracks Yet", [])
    assert card["items"] == [
        {
            "title": "Search on YouTube",
            "description": "No Tracks Yet",
            "link": {"web": "https://www.youtube.com/results?search_query=No+Tracks+Yet"},
        }
    ]
    assert artist_card(KO, "No Tracks Yet", [])["items"][0]["title"] == "유튜브에서 찾아보기"


def test_a_known_reply_for_long_names_and_four_tracks_stays_within_limits():
    long = "가" * 512
    tracks = [Track(rank, f"{long}{rank}", long, None) for rank in (1, 2, 3, 4)]
    cards = [ArtistCard("a", long, None, None, None, tracks)] + [
        ArtistCard(f"r{i}", f"{long}{i}", None, None, 0.1, tracks) for i in range(3)
    ]
    for say in (KO, EN):
        reply = known_reply(say, cards)
        assert replies.problems(reply) == []
        assert len(reply["template"]["quickReplies"]) == 3


def test_a_long_related_name_is_reached_through_its_id_and_k_over_4_promises_what_the_cards_show():
    """A related artist's name longer than any message is asked about by id (quick reply and card
    button carry it in extra); with k = 8 the text counts the 4 related cards a carousel shows."""
    long = "Orchestra " * 15
    related = [
        ArtistCard(f"r{i}", f"{long}{i}" if i == 0 else f"Related {i}", None, None, 0.1, [Track(1, "Song", None)])
        for i in range(8)
    ]
    reply = known_reply(KO, [ArtistCard("a", "Main", None, None, None, [Track(1, "One", None)]), *related])
    assert replies.problems(reply) == []
    text = reply["template"]["outputs"][0]["simpleText"]["text"]
    carousel = reply["template"]["outputs"][1]["carousel"]["items"]
    assert "아티스트 4명" in text and len(carousel) == 5
    chips = reply["template"]["quickReplies"]
    assert len(chips) == 4 and chips[0]["extra"] == {"kind": "artist", "id": "r0"}
    assert len(chips[0]["label"]) <= replies.MAX_LABEL
    ask = carousel[1]["buttons"][1]
    assert ask["action"] == "message" and ask["extra"] == {"kind": "artist", "id": "r0"}
    assert [b["label"] for b in carousel[1]["buttons"]] == ["노래 더 보기", "비슷한 가수"]
    assert carousel[0]["buttons"] == [
        {
            "label": "노래 더 보기",
            "action": "webLink",
            "webLinkUrl": "https://www.youtube.com/results?search_query=Main",
        }
    ]


def test_a_known_artist_whose_related_rows_are_missing_says_so():
    reply = known_reply(EN, [ArtistCard("a", "Solo", None, None, None, [Track(1, "One", None)])])
    assert "come after the next update" in reply["template"]["outputs"][0]["simpleText"]["text"]
    assert len(reply["template"]["outputs"][1]["carousel"]["items"]) == 1
    reply = known_reply(KO, [ArtistCard("a", "Solo", None, None, None, [Track(1, "One", None)])])
    assert "다음 업데이트 뒤에" in reply["template"]["outputs"][0]["simpleText"]["text"]


def test_songs_on_a_card_are_distinct():
    tracks = [Track(1, "Love Dive", None), Track(2, "LOVE DIVE", None), Track(3, "After Like", None)]
    card = artist_card(KO, "IVE", tracks)
    assert [item["title"] for item in card["items"]] == ["Love Dive", "After Like"]


def test_the_catalog_has_both_languages_for_every_entry_and_labels_fit():
    for key, entry in CATALOG.items():
        assert set(entry) == {"ko", "en"}, key
        assert entry["ko"] and entry["en"], key
        if key.startswith(("button_", "reply_")):
            limit = replies.MAX_LABEL_PAIR if key in ("button_songs", "button_similar") else replies.MAX_LABEL
            assert all(replies.kakao_length(entry[lang]) <= limit for lang in ("ko", "en")), key
        if not key.startswith(("button_", "reply_", "item_")):
            assert entry["ko"].rstrip().endswith(("요.", "요?", "요!", "세요.")), key  # polite 해요체
    assert language("en-US") == "en" and language("ko") == "ko" and language(None) == "ko"
    assert language("ko", configured="en") == "en"


REASON_WORDS = {  # (language, reason) -> the first line of a related artist's card and its note on "IU"
    ("ko", "sound"): ("비슷한 느낌의 아티스트", "IU 노래와 분위기가 닮았어요"),
    ("ko", "listeners"): ("함께 많이 듣는 아티스트", "IU 팬들이 즐겨 들어요"),
    ("ko", "both"): ("함께 듣고 느낌도 비슷해요", "IU 팬들이 즐겨 듣고 분위기도 닮았어요"),
    ("en", "sound"): ("Sounds similar", "Sounds like IU"),
    ("en", "listeners"): ("Fans also listen", "Loved by IU fans"),
    ("en", "both"): ("Same fans, same vibe", "Loved by IU fans, and sounds alike"),
}


@pytest.mark.parametrize("lang, reason", list(REASON_WORDS))
@pytest.mark.parametrize("asked", ["IU", "Tyler, The Creator", "가" * 512, "🎵" * 40])
def test_each_reason_is_worded_on_its_cards_within_kakaos_limits(lang, reason, asked):
    say = Messages(lang)
    tracks = [Track(rank, f"Song {rank}", "Album", None) for rank in (1, 2, 3, 4)]  # TRACKS_PER_CARD at most
    related = [
        ArtistCard(f"r{i}", f"Related {i} " + "x" * 60 * i, f"https://i.test/r{i}", None, 0.1 * i, tracks, reason)
        for i in range(4)
    ]
    reply = known_reply(say, [ArtistCard("a", asked, None, None, None, tracks), *related])
    assert replies.problems(reply) == []
    title, on_iu = REASON_WORDS[lang, reason]
    quoted = replies.cut(asked, SHOWN_IN_REASON)  # a long name is cut, never the sentence
    for card in reply["template"]["outputs"][1]["carousel"]["items"][1:]:
        why, *songs = card["items"]
        assert why["title"] == title and replies.kakao_length(title) <= replies.MAX_LABEL + 6  # one short line
        assert why["description"] == on_iu.replace("IU", quoted, 1)  # whole: within MAX_TITLE, not cut
        assert replies.kakao_length(why["description"]) <= replies.MAX_TITLE
        assert [item["title"] for item in songs] == ["Song 1", "Song 2", "Song 3"]  # the rest of the items
        assert why["imageUrl"].startswith("https://i.test/r") and why["link"]["web"].startswith(replies.YOUTUBE_SEARCH)
    text = reply["template"]["outputs"][0]["simpleText"]["text"]
    alike = {"ko": "비슷한 느낌의 아티스트 4명", "en": "4 artists that sound alike"}[lang]
    assert (alike in text) == (reason == "sound")  # the text says "alike" only when sound chose them all


def test_reasons_are_worded_each_on_its_own_card_and_an_unknown_one_as_sound():
    cards = [ArtistCard("a", "Main", None, None, None, [Track(1, "One", None)])] + [
        ArtistCard(f"r{i}", f"R{i}", None, None, 0.1, [Track(1, "Song", None)], reason)
        for i, reason in enumerate(["both", "sound", None, "genre"])
    ]
    for say in (KO, EN):
        reply = known_reply(say, cards)
        titles = [card["items"][0]["title"] for card in reply["template"]["outputs"][1]["carousel"]["items"][1:]]
        assert titles == [say.say(f"item_reason_{r}") for r in ("both", "sound", "sound", "sound")]
        assert "imageUrl" not in reply["template"]["outputs"][1]["carousel"]["items"][1]["items"][0]
    assert "함께 들어 볼 아티스트 4명" in known_reply(KO, cards)["template"]["outputs"][0]["simpleText"]["text"]


def test_kakao_lengths_count_emoji_twice_and_cuts_respect_them():
    assert replies.kakao_length("블랙핑크") == 4 and replies.kakao_length("🎵a") == 3
    assert replies.cut("🎵" * 10, 8) == "🎵🎵🎵…"
    assert replies.problems(replies.skill_response([replies.simple_text("x")], ["🎵" * 7])) == []


def test_what_the_user_typed_is_quoted_back_printable_and_short():
    assert shown("BLACK\x00PINK\u200b\n") == "BLACK PINK"
    assert len(shown("x" * 500)) == 40
    assert shown("\u3164아이유\u3164팬이에요\ufe0f\u034f\u2800") == "아이유 팬이에요"


def test_one_rule_says_what_shows_and_keys_drop_what_it_drops():
    from shared.names import INVISIBLE, name_key, visible, word_keys

    assert visible("\u3164 BLACK\u3164PINK\ufe0f\u200b\x00\tx \n") == "BLACK PINK x"
    assert visible("\u115f\u1160\u2800\ufe0f\u034f\uffa0\u200b\U000e0100") == ""
    assert all(visible(f"a{chr(code)}b") in ("ab", "a b") for code in INVISIBLE)
    assert all(name_key(f"a{chr(code)}b") == "ab" for code in INVISIBLE)
    assert word_keys("Red\u3164Velvet\ufe0f") == ["red", "velvet"]


def _candidate(name, key, popularity=0, probe="p+", initials=None):
    return Candidate(name.lower(), name, key, popularity, initials, probe)


def test_rank_orders_by_letter_similarity_then_popularity_and_drops_the_far_ones():
    candidates = [
        _candidate("Red Velvet", "redvelvet", 90),
        _candidate("Velvet Underground", "velvetunderground"),
        _candidate("Redd", "redd", 10),
        _candidate("Reda", "reda", 20),
        _candidate("레드벨벳", "레드벨벳", 90),
    ]
    assert [s.name for s in matching.rank("redvelvit", candidates, 5)] == ["Red Velvet"]
    assert [s.name for s in matching.rank("red", candidates, 5)][:3] == ["Red Velvet", "Reda", "Redd"]
    assert matching.rank("zzz", candidates, 5) == []
    # Hangul compared by letters: one letter off in a syllable is close.
    assert [s.name for s in matching.rank("레드벨벹", candidates, 5)] == ["레드벨벳"]


def test_a_distinctive_word_or_initials_name_one_artist_only_when_unambiguous():
    bach = _candidate("Johann Sebastian Bach", "johannsebastianbach", probe="s+")
    offenbach = _candidate("Offenbach", "offenbach", probe="s+")
    assert matching.sole_match("bach", [bach, offenbach], 12) == bach
    cpe = _candidate("C.P.E. Bach", "cpebach", probe="s+")
    assert matching.sole_match("bach", [bach, cpe], 12) is None  # two Bachs: suggested instead
    assert matching.sole_match("bach", [bach] * 12, 12) is None  # the range was cut: maybe more
    assert [s.name for s in matching.rank("bach", [offenbach, cpe, bach], 5)][:2] == [
        "C.P.E. Bach",
        "Johann Sebastian Bach",
    ]
    bts = _candidate("방탄소년단", "방탄소년단", probe="i", initials="\u1107\u1110\u1109\u1102\u1103")
    typed = "\u1107\u1110\u1109\u1102\u1103"
    assert matching.sole_match(typed, [bts], 12) == bts
    assert matching.rank(typed, [bts], 5)[0].name == "방탄소년단"


def test_skill_requests_read_the_utterance_the_user_and_the_artist_parameter():
    request = SkillRequest.from_body(
        json.dumps(
            {
                "userRequest": {"utterance": " IU\n", "user": {"id": "u1"}, "lang": "en"},
                "action": {"params": {"artist": 5}, "clientExtra": {"id": "x"}},
            }
        )
    )
    assert (request.text, request.user_id, request.artist_param) == ("IU", "u1", "")
    assert (request.lang, request.extra) == ("en", {"id": "x"})
    request = SkillRequest.from_body(json.dumps({"userRequest": {"utterance": "IU"}, "action": {"clientExtra": "x"}}))
    assert (request.lang, request.extra) == ("", None)
    with pytest.raises(BadSkillRequest, match="no userRequest.utterance"):
        SkillRequest.from_body('{"userRequest": {"user": {}}}')


def test_events_of_both_payload_versions_give_the_same_request():
    v1 = {
        "httpMethod": "POST",
        "path": "/skill",
        "headers": {"X-Skill-Secret": "s"},
        "body": "e30=",
        "isBase64Encoded": True,
    }
    v2 = {
        "version": "2.0",
        "rawPath": "/skill",
        "requestContext": {"http": {"method": "POST"}},
        "headers": {"x-skill-secret": "s"},
        "body": "{}",
    }
    for event in (v1, v2):
        request = apigw.parse_event(event)
        assert (request.method, request.path, request.headers, request.text()) == (
            "POST",
            "/skill",
            {"x-skill-secret": "s"},
            "{}",
        )
    with pytest.raises(apigw.BadEvent, match="not base64-encoded UTF-8"):
        apigw.parse_event({**v1, "body": "//79"}).text()


def test_the_deadline_refuses_calls_it_cannot_fit():
    now = [100.0]
    deadline = Deadline(1.0, clock=lambda: now[0])
    assert deadline.timeout(5.0) == pytest.approx(0.75)
    assert deadline.timeout(0.3) == pytest.approx(0.3)
    now[0] += 0.8
    with pytest.raises(OutOfTime):
        deadline.timeout(5.0)


def test_the_local_skill_server_answers_curl_style_posts(tmp_path):
    from mart import serving
    from tests.support import chatbot_mart

    conn = serving.connect(f"jdbc:sqlite:{tmp_path / 'mart.db'}")
    chatbot_mart.fill(conn, "sqlite", 10)
    conn.close()
    server = subprocess.Popen(
        [sys.executable, "-m", "chatbot_lambda.serve", "--port", "0", "--mart", f"jdbc:sqlite:{tmp_path / 'mart.db'}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline()
        assert line.startswith("skill server on http://127.0.0.1:"), line + server.stderr.read()
        url = line.split()[3]
        body = json.dumps({"userRequest": {"utterance": "아이유", "user": {"id": "me"}}}).encode()
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            reply = json.load(response)
        assert replies.problems(reply) == []
        assert reply["template"]["outputs"][1]["carousel"]["items"][0]["header"]["title"] == "IU"
        not_json = urllib.request.Request(url, b"not json", {"Content-Type": "application/json"})
        with urllib.request.urlopen(not_json, timeout=10) as response:
            assert json.load(response)["template"]["outputs"][0]["simpleText"]["text"].startswith("죄송해요")
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize(
    "typed, names, expected, offered",
    [
        ("BTS", ["BTS", "BTS World"], "BTS", None),
        ("bts", ["Bangtan", "B.T.S"], "B.T.S", None),  # punctuation is optional
        ("beyonce", ["Beyoncé"], "Beyoncé", None),  # so are accents
        ("blakpink", ["BLACKPINK", "Black"], "BLACKPINK", None),  # a typo Spotify corrected
        ("qqqqqq", ["Queen", "Q-Tip"], None, None),  # fuzzy search returns something: not taken
        ("아이유", ["IU", "IU Tribute"], None, "IU"),  # other script: only offered to the user
        ("안녕하세요", ["Annyeong Band"], None, "Annyeong Band"),
        ("아이유", ["아이유 노래방"], None, None),
        ("", ["IU"], None, None),
    ],
)
def test_only_a_search_hit_close_to_what_was_typed_is_taken_one_in_another_script_is_offered(
    typed, names, expected, offered
):
    from chatbot_lambda.spotify import best_hit, offered_hit

    hits = [{"id": str(i), "name": name} for i, name in enumerate(names)]
    hit = best_hit(typed, hits)
    assert (hit["name"] if hit else None) == expected
    if hit is None:
        other = offered_hit(typed, hits)
        assert (other["name"] if other else None) == offered


@pytest.mark.parametrize(
    "text, name, typed",
    [
        ("ㄴㄹㅂ", "\u1102\u1105\u1107", "ㄴㄹㅂ"),  # NFKC makes conjoining jamo: matched, not shown
        ("ㅂㅌㅅ 노래 추천해줘", "\u1107\u1110\u1109", "ㅂㅌㅅ"),
        ("ＢＴＳ랑 비슷한 가수", "BTS", "ＢＴＳ"),  # the particle off both forms
        ("하늘소리의 노래", "하늘소리", "하늘소리"),
        ("Haneul Sori", "Haneul Sori", "Haneul Sori"),
    ],
)
def test_a_message_is_matched_normalized_and_quoted_as_typed(text, name, typed):
    from chatbot_lambda.utterance import read

    utterance = read(text)
    assert (utterance.name, utterance.typed) == (name, typed)
