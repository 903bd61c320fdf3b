"""The chatbot's small parts on their own: reply builders and limits, matching, events, the budget."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from chatbot_lambda import apigw, matching, replies
from chatbot_lambda.answers import artist_card, known_reply, shown
from chatbot_lambda.budget import Deadline, OutOfTime
from chatbot_lambda.kakao import BadSkillRequest, SkillRequest
from chatbot_lambda.replies import Button, ListItem
from mart.serving import ArtistCard, Track

REPO = Path(__file__).resolve().parents[1]
SHAPE = REPO.parent / "shared" / "examples" / "kakao_skill_response_shape.json"


def test_the_design_example_reply_passes_the_checks_and_broken_ones_do_not():
    example = json.loads(SHAPE.read_text(encoding="utf-8"))
    assert replies.problems(example) == []
    card = example["template"]["outputs"][1]["carousel"]["items"][0]
    broken = {
        "four outputs": {"version": "2.0", "template": {"outputs": [{"simpleText": {"text": "a"}}] * 4}},
        "long text": {"version": "2.0", "template": {"outputs": [{"simpleText": {"text": "a" * 1001}}]}},
        "six cards": {"version": "2.0", "template": {"outputs": [
            {"carousel": {"type": "listCard", "items": [card] * 6}}]}},
        "five items": {"version": "2.0", "template": {"outputs": [
            {"carousel": {"type": "listCard", "items": [{**card, "items": card["items"] * 5}]}}]}},
        "no header": {"version": "2.0", "template": {"outputs": [
            {"carousel": {"type": "listCard", "items": [{k: v for k, v in card.items() if k != "header"}]}}]}},
        "two long labels": {"version": "2.0", "template": {"outputs": [
            {"carousel": {"type": "listCard", "items": [{**card, "buttons": card["buttons"] * 2}]}}]}},
        "eleven quick replies": {**example, "template": {**example["template"],
                                                        "quickReplies": example["template"]["quickReplies"] * 11}},
        "version 1": {**example, "version": "1.0"},
    }
    for name, reply in broken.items():
        assert replies.problems(reply), name


def test_builders_cut_whatever_would_break_a_limit():
    item = ListItem("t" * 300, "d" * 300, "https://i.test/x", "https://y.test")
    card = replies.list_card("h" * 300, [item] * 9, [Button("A very long button label", "https://a.test")] * 3)
    reply = replies.skill_response([replies.simple_text("x" * 5000), replies.list_card_carousel([card] * 8),
                                    replies.simple_text("c"), replies.simple_text("d")],
                                   [f"Artist number {i} with a long name" for i in range(15)])
    assert replies.problems(reply) == []
    outputs = reply["template"]["outputs"]
    assert len(outputs) == 3 and len(outputs[0]["simpleText"]["text"]) == 1000
    cards = outputs[1]["carousel"]["items"]
    assert len(cards) == 5 and len(cards[0]["items"]) == 4
    assert [b["label"] for b in cards[0]["buttons"]] == ["A very…", "A very…"]     # side by side: 8 at most
    assert len(reply["template"]["quickReplies"]) == 10
    assert reply["template"]["quickReplies"][0] == {"label": "Artist number…", "action": "message",
                                                    "messageText": "Artist number 0 with a long name"}


def test_an_artist_without_tracks_still_gets_a_valid_card():
    card = artist_card("No Tracks Yet", [])
    assert card["items"] == [{"title": "Search on YouTube", "description": "No Tracks Yet",
                              "link": {"web": "https://www.youtube.com/results?search_query=No+Tracks+Yet"}}]


def test_a_known_reply_for_long_names_and_four_tracks_stays_within_limits():
    long = "가" * 512
    tracks = [Track(rank, long, long, None) for rank in (1, 2, 3, 4)]
    cards = [ArtistCard("a", long, None, None, None, tracks)] + [
        ArtistCard(f"r{i}", f"{long}{i}", None, None, 0.1, tracks) for i in range(3)]
    reply = known_reply(cards)
    assert replies.problems(reply) == []
    assert len(reply["template"]["quickReplies"]) == 3


def test_a_known_artist_whose_related_rows_are_missing_says_so():
    reply = known_reply([ArtistCard("a", "Solo", None, None, None, [Track(1, "One", None)])])
    assert "Related artists come after the next update" in reply["template"]["outputs"][0]["simpleText"]["text"]
    assert len(reply["template"]["outputs"][1]["carousel"]["items"]) == 1


def test_what_the_user_typed_is_quoted_back_printable_and_short():
    assert shown("BLACK\x00PINK\u200b\n") == "BLACK PINK"
    assert len(shown("x" * 500)) == 40


@pytest.mark.parametrize("key, patterns", [
    ("", []), ("b", ["b%"]), ("iu", ["iu%"]), ("twi", ["%tw%", "%wi%"]),
    ("blakpink", ["%bla%", "%akp%", "%kpi%", "%ink%"]), ("a%_!", ["%a!%%", "%!%!_%", "%!_!!%"]),
])
def test_like_patterns_spread_short_pieces_over_the_key(key, patterns):
    assert matching.like_patterns(key) == patterns


def test_rank_orders_by_similarity_then_popularity_and_drops_the_far_ones():
    candidates = [("Red Velvet", "redvelvet"), ("Velvet Underground", "velvetunderground"), ("Redd", "redd"),
                  ("레드벨벳", "레드벨벳"), ("Red Velvet", "레드벨벳"), ("Reda", "reda")]
    assert matching.rank("redvelvit", candidates, 5) == ["Red Velvet"]
    assert matching.rank("red", candidates, 5) == ["Redd", "Reda", "Red Velvet"]   # equal scores: given order
    assert matching.rank("red", candidates, 2) == ["Redd", "Reda"]
    assert matching.rank("zzz", candidates, 5) == []


def test_skill_requests_read_the_utterance_the_user_and_the_artist_parameter():
    request = SkillRequest.from_body(json.dumps({"userRequest": {"utterance": " IU\n", "user": {"id": "u1"}},
                                                 "action": {"params": {"artist": 5}}}))
    assert (request.text, request.user_id, request.artist_param) == ("IU", "u1", "")
    with pytest.raises(BadSkillRequest, match="no userRequest.utterance"):
        SkillRequest.from_body('{"userRequest": {"user": {}}}')


def test_events_of_both_payload_versions_give_the_same_request():
    v1 = {"httpMethod": "POST", "path": "/skill", "headers": {"X-Skill-Secret": "s"}, "body": "e30=",
          "isBase64Encoded": True}
    v2 = {"version": "2.0", "rawPath": "/skill", "requestContext": {"http": {"method": "POST"}},
          "headers": {"x-skill-secret": "s"}, "body": "{}"}
    for event in (v1, v2):
        request = apigw.parse_event(event)
        assert (request.method, request.path, request.headers, request.text()) == (
            "POST", "/skill", {"x-skill-secret": "s"}, "{}")
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
    from tests import chatbot_mart

    conn = serving.connect(f"jdbc:sqlite:{tmp_path / 'mart.db'}")
    chatbot_mart.fill(conn, "sqlite", 10)
    conn.close()
    server = subprocess.Popen([sys.executable, "-m", "chatbot_lambda.serve", "--port", "0",
                               "--mart", f"jdbc:sqlite:{tmp_path / 'mart.db'}"],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
        with urllib.request.urlopen(urllib.request.Request(url, b"not json"), timeout=10) as response:
            assert json.load(response)["template"]["outputs"][0]["simpleText"]["text"].startswith("Sorry")
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize("typed, names, expected", [
    ("BTS", ["BTS", "BTS World"], "BTS"),
    ("bts", ["Bangtan", "B.T.S"], None),                 # B.T.S keeps its dots: not close enough
    ("blakpink", ["BLACKPINK", "Black"], "BLACKPINK"),   # a typo Spotify corrected
    ("qqqqqq", ["Queen", "Q-Tip"], None),                # fuzzy search returns something: not taken
    ("아이유", ["IU", "IU Tribute"], "IU"),               # other script: Spotify's first hit
    ("아이유", ["아이유 노래방"], None),
    ("", ["IU"], None),
])
def test_only_a_search_hit_close_to_what_was_typed_is_taken(typed, names, expected):
    from chatbot_lambda.spotify import best_hit

    hit = best_hit(typed, [{"id": str(i), "name": name} for i, name in enumerate(names)])
    assert (hit["name"] if hit else None) == expected
