"""What the chatbot answers with live lookups against the fake Spotify, on a real MariaDB and on SQLite."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import pytest

from chatbot_lambda.app import SkillApp
from chatbot_lambda.settings import Settings
from mart.requests import user_hash
from tests.support.answers import request_users, requests_rows, rows_of, search_terms
from tests.support.fake_spotify import Catalog, FakeSpotify
from tests.support.skill_calls import (
    REQUEST_KEY,
    SKILL_SECRET,
    ask,
    cards,
    headers,
    http_api_event,
    quick_replies,
    reply_of,
    signed,
    skill_body,
    tap,
    texts,
)

# -- live lookups through the fake Spotify --------------------------------------------------------------


@pytest.fixture
def spotify():
    with FakeSpotify(Catalog.generate(50)) as api:
        yield api


@pytest.fixture
def live_app(skill_env, spotify):
    env = {
        **skill_env,
        "SPOTIPY_CLIENT_ID": "id",
        "SPOTIPY_CLIENT_SECRET": "secret",
        "SPOTIFY_API_URL": spotify.api_url,
        "SPOTIFY_TOKEN_URL": spotify.token_url,
        "SPOTIFY_TIMEOUT_SECONDS": "0.5",
        "REQUEST_KEY": REQUEST_KEY,
        "SKILL_SECRET": SKILL_SECRET,
    }
    skill = SkillApp(Settings.from_env(env))
    yield skill
    skill.repository.close()


def confirmations(mart) -> list[tuple]:
    return rows_of(mart, "SELECT alias_key, artist_id, typed FROM alias_confirmations ORDER BY alias_key, user_hash")


def _fake_artist(spotify, i: int) -> dict:
    return next(a for a in spotify.catalog.artists.values() if a["name"] == f"Fake Artist {i}")


@pytest.mark.clock
def test_an_artist_only_spotify_knows_is_answered_live_and_recorded(live_app, spotify, served_mart):
    artist = _fake_artist(spotify, 7)
    reply = ask(live_app, "fake artist 7")
    assert texts(reply)[0] == (
        "Fake Artist 7의 곡을 스포티파이에서 찾아왔어요. 비슷한 아티스트는 다음 업데이트 뒤에 알려 드릴게요."
    )
    assert headers(reply) == ["Fake Artist 7"]
    assert [item["title"] for item in cards(reply)[0]["items"]] == ["Song 0 by 7", "Song 1 by 7", "Song 2 by 7"]
    assert search_terms(cards(reply)[0]["items"][0]["link"]["web"]) == "Fake Artist 7 Song 0 by 7"
    assert quick_replies(reply)[:2] == ["BLACKPINK", "IU"]  # a next step on live answers too
    ask(live_app, "Fake Artist 7")
    assert requests_rows(served_mart) == [("fakeartist7", "Fake Artist 7", artist["id"], 2)]
    searches = [q for name, q in spotify.queries if name == "search"]
    assert searches[0]["type"] == "artist" and searches[0]["market"] == "KR"
    # In a sentence, the longest name the mart knows wins ("Artist 7" inside "Fake Artist 7 ..."); a name
    # the mart lacks is searched without the request words.
    assert headers(ask(live_app, "Fake Artist 7 노래 추천해줘"))[0] == "Artist 7"
    ask(live_app, "Fake Band 같은 노래")
    assert [q for name, q in spotify.queries if name == "search"][-1]["q"] == "Fake Band"
    assert spotify.calls["token"] == 1  # one token for the warm container


def test_small_talk_never_reaches_spotify_nor_the_requests(live_app, spotify, served_mart):
    """Spotify answers nearly anything with some band; greetings and laughter are not names."""
    band = _fake_artist(spotify, 3)["id"]
    spotify.switches.hits.update({"안녕하세요": [band], "ㅋㅋㅋㅋ": [band]})
    for typed in ("안녕하세요", "ㅋㅋㅋㅋ"):
        reply = ask(live_app, typed)
        assert texts(reply)[0].startswith("반가워요!") and cards(reply) == []
    assert spotify.calls["search"] == 0 and requests_rows(served_mart) == []


@pytest.mark.parametrize(
    "typed, answer",
    [
        ("안녕하세요 ㅎㅎ", "반가워요!"),
        ("안녕하세요ㅎㅎ", "반가워요!"),
        ("하이루", "반가워요!"),
        ("ㅇㅋ", "반가워요!"),
        ("좋은 아침이에요", "반가워요!"),
        ("안녕!! ㅋㅋ", "반가워요!"),
        ("ㅋㅋㅋ 고마워요", "천만에요!"),
    ],
)
def test_small_talk_in_several_words_or_with_laughter_gets_the_how_to_and_no_band(
    live_app, spotify, served_mart, typed, answer
):
    """Spotify's search answers such text with some Latin-script band: it is never asked."""
    spotify.switches.hits[typed] = [_fake_artist(spotify, 3)["id"]]
    reply = ask(live_app, typed)
    assert texts(reply)[0].startswith(answer) and cards(reply) == []
    assert "Fake Artist 3" not in json.dumps(reply, ensure_ascii=False)
    assert spotify.calls["search"] == 0 and requests_rows(served_mart) == []


@pytest.mark.clock
def test_a_hit_in_another_script_is_only_offered_and_a_tap_counts_once_as_that_users_confirmation(
    live_app, spotify, served_mart
):
    artist = _fake_artist(spotify, 9)
    spotify.switches.hits["페이크나인"] = [artist["id"]]
    reply = ask(live_app, "페이크나인")
    assert texts(reply) == ["‘페이크나인’, 혹시 Fake Artist 9 말씀이세요? 맞으면 ‘네, 맞아요’를 눌러 주세요."]
    assert [q["label"] for q in reply["template"]["quickReplies"]][:2] == ["네, 맞아요", "아니에요"]
    assert requests_rows(served_mart) == [] and confirmations(served_mart) == []  # nothing without a yes
    answer = tap(live_app, reply, 0)
    assert headers(answer) == ["Fake Artist 9"]
    assert texts(answer)[0].startswith("고마워요! ‘페이크나인’(이)라는 이름은 확인을 거쳐")
    assert confirmations(served_mart) == [("페이크나인", artist["id"], "페이크나인")]
    # The request is the artist's own name: what was typed is only a confirmation, never an alias yet.
    assert requests_rows(served_mart) == [("fakeartist9", "Fake Artist 9", artist["id"], 1)]
    again = tap(live_app, reply, 0)  # the same user, the same chip: counted once
    assert headers(again) == ["Fake Artist 9"] and not texts(again)[0].startswith("고마워요")
    assert confirmations(served_mart) == [("페이크나인", artist["id"], "페이크나인")]
    no = tap(live_app, ask(live_app, "페이크나인"), 1)
    assert texts(no)[0].startswith("알겠어요.")


@pytest.mark.parametrize("key", ["related-artists development key", "", REQUEST_KEY[::-1]])
def test_a_forged_confirmation_is_ignored(live_app, spotify, served_mart, key):
    """A chip signed with any other key (the constant older versions fell back to, none, a guess) is
    read as the text it sends."""
    artist = _fake_artist(spotify, 4)
    forged = {
        "kind": "alias",
        "id": artist["id"],
        "name": "Fake Artist 4",
        "typed": "방탄소년단",
        "exp": live_app.chatbot.minutes() + 5,
    }
    message = f"alias-offer\n{artist['id']}\nFake Artist 4\n방탄소년단\n{user_hash(key, 'user-1')}\n{forged['exp']}"
    forged["sig"] = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]
    reply = reply_of(live_app.handle(http_api_event(skill_body("Fake Artist 4", extra=forged), signed(live_app))))
    assert headers(reply) == ["Fake Artist 4"]  # answered as the text it sent
    assert [row[0] for row in requests_rows(served_mart)] == ["fakeartist4"]
    assert confirmations(served_mart) == []


@pytest.mark.parametrize("sig", ["서명" * 16, "0" * 31 + "\u0660", 12345, None])
def test_a_confirmation_with_a_malformed_signature_is_read_as_text(live_app, spotify, served_mart, sig):
    artist = _fake_artist(spotify, 4)
    chip = {
        "kind": "alias",
        "id": artist["id"],
        "name": "Fake Artist 4",
        "typed": "방탄소년단",
        "exp": live_app.chatbot.minutes() + 5,
        "sig": sig,
    }
    reply = reply_of(live_app.handle(http_api_event(skill_body("Fake Artist 4", extra=chip), signed(live_app))))
    assert headers(reply) == ["Fake Artist 4"] and confirmations(served_mart) == []


def test_a_chip_replayed_by_another_user_or_too_late_changes_nothing(live_app, spotify, served_mart):
    artist = _fake_artist(spotify, 8)
    spotify.switches.hits["페이크에잇"] = [artist["id"]]
    offer = ask(live_app, "페이크에잇", user="fan-1")
    for user in ("fan-2", "fan-3"):  # fan-1's chip, tapped by others
        assert not texts(tap(live_app, offer, 0, user=user))[0].startswith("고마워요")
    assert confirmations(served_mart) == []
    clock = live_app.chatbot.clock
    live_app.chatbot.clock = lambda: clock() + 11 * 60  # ALIAS_OFFER_MINUTES (10) later
    assert not texts(tap(live_app, offer, 0, user="fan-1"))[0].startswith("고마워요")
    assert confirmations(served_mart) == []
    live_app.chatbot.clock = clock
    assert texts(tap(live_app, offer, 0, user="fan-1"))[0].startswith("고마워요")
    assert [row[:2] for row in confirmations(served_mart)] == [("페이크에잇", artist["id"])]


def test_an_unsigned_endpoint_offers_but_learns_nothing(skill_env, spotify, served_mart):
    env = {
        **skill_env,
        "SPOTIPY_CLIENT_ID": "id",
        "SPOTIPY_CLIENT_SECRET": "secret",
        "SPOTIFY_API_URL": spotify.api_url,
        "SPOTIFY_TOKEN_URL": spotify.token_url,
    }
    unsigned = SkillApp(Settings.from_env(env))
    try:
        artist = _fake_artist(spotify, 7)
        spotify.switches.hits["페이크세븐"] = [artist["id"]]
        offer = ask(unsigned, "페이크세븐")
        assert set(offer["template"]["quickReplies"][0]["extra"]) == {"kind", "id", "name"}  # nothing to sign
        answer = tap(unsigned, offer, 0)
        assert headers(answer) == ["Fake Artist 7"] and not texts(answer)[0].startswith("고마워요")
        assert confirmations(served_mart) == [] and request_users(served_mart) == []
        assert requests_rows(served_mart) == [("fakeartist7", "Fake Artist 7", artist["id"], 1)]
    finally:
        unsigned.repository.close()


def test_where_top_tracks_are_closed_track_search_stands_in_once_known(live_app, spotify):
    spotify.switches.closed.add("top-tracks")
    for i in (3, 4):
        reply = ask(live_app, f"Fake Artist {i}")
        assert [item["title"] for item in cards(reply)[0]["items"]] == [f"Song {t} by {i}" for t in range(3)]
    assert spotify.calls["top-tracks"] == 1  # closed once, then not asked again
    track_searches = [q for name, q in spotify.queries if name == "search" and q["type"] == "track"]
    assert [q["q"] for q in track_searches] == ['artist:"Fake Artist 3"', 'artist:"Fake Artist 4"']


def test_a_name_found_nowhere_suggests_and_records_nothing(live_app, served_mart):
    reply = ask(live_app, "twice again band")
    assert texts(reply)[0] == "‘twice again band’에 맞는 아티스트를 찾지 못했어요. 혹시 이 중에 있나요?"
    assert quick_replies(reply)[0] == "TWICE"
    reply = ask(live_app, "blakpink")  # a typo of a mart name Spotify does not know either
    assert texts(reply)[0] == "‘blakpink’, 혹시 BLACKPINK 찾으셨나요? 아래에서 눌러 보세요."
    assert quick_replies(reply)[0] == "BLACKPINK"
    assert requests_rows(served_mart) == []


@pytest.mark.clock
@pytest.mark.parametrize("fault", ["down", "slow", "rate-limited", "malformed", "refused"])
def test_spotify_faults_answer_in_time_and_queue_the_request(live_app, spotify, served_mart, fault, caplog):
    if fault == "down":
        spotify.switches.fail["search"] = 5
    elif fault == "slow":
        spotify.switches.slow["search"] = 3.0
    elif fault == "rate-limited":
        spotify.switches.rate, spotify.switches.retry_after = 0, 60
    elif fault == "malformed":
        spotify.switches.malformed["search"] = 5
    else:
        live_app.spotify.settings = Settings(
            **{**live_app.settings.__dict__, "spotify_api_url": "http://127.0.0.1:9/v1/"}
        )
    started = time.perf_counter()
    reply = ask(live_app, "Fake Artist 9")
    assert time.perf_counter() - started < 2.0
    assert texts(reply)[0].startswith("‘Fake Artist 9’ 아티스트는 아직 몰라요. 다음 업데이트 때 찾아 둘게요.")
    assert requests_rows(served_mart) == [("fakeartist9", "Fake Artist 9", None, 1)]
    logged = [
        {"outcome": r.outcome, "detail": getattr(r, "detail", "")}
        for r in caplog.records
        if r.name == "chatbot_lambda" and hasattr(r, "outcome")
    ]
    assert logged[-1]["outcome"] == "queued" and "Spotify" in logged[-1]["detail"]


@pytest.mark.clock
def test_after_a_429_the_container_leaves_spotify_alone_until_retry_after(live_app, spotify, served_mart):
    spotify.switches.rate, spotify.switches.retry_after = 1, 60
    reply = ask(live_app, "Fake Artist 1")  # the search passes, top tracks are refused
    assert "Fake Artist 1의 곡을 스포티파이에서" in texts(reply)[0]
    assert cards(reply)[0]["items"][0]["title"] == "유튜브에서 찾아보기"  # the artist without its tracks
    assert requests_rows(served_mart)[0][2] == _fake_artist(spotify, 1)["id"]
    calls = sum(spotify.calls.values())
    reply = ask(live_app, "Fake Artist 2")
    assert "다음 업데이트 때 찾아 둘게요" in texts(reply)[0]
    assert sum(spotify.calls.values()) == calls


def test_a_long_spotify_outage_never_exceeds_the_time_budget(skill_env, spotify):
    spotify.switches.slow.update({"token": 0.4, "search": 0.4, "top-tracks": 0.4})
    env = {
        **skill_env,
        "SPOTIPY_CLIENT_ID": "id",
        "SPOTIPY_CLIENT_SECRET": "secret",
        "SPOTIFY_API_URL": spotify.api_url,
        "SPOTIFY_TOKEN_URL": spotify.token_url,
        "SPOTIFY_TIMEOUT_SECONDS": "1",
        "TIME_BUDGET_SECONDS": "1",
    }
    skill = SkillApp(Settings.from_env(env))
    started = time.perf_counter()
    reply = ask(skill, "Fake Artist 5")
    elapsed = time.perf_counter() - started
    skill.repository.close()
    assert elapsed < 1.5, elapsed
    # Too little time was left to record it: the reply does not promise to look for it.
    assert texts(reply)[0].startswith("‘Fake Artist 5’ 아티스트는 아직 몰라요. 그동안")


def test_a_trickling_or_oversized_spotify_answer_is_cut_off_at_its_timeout(live_app, spotify, served_mart, caplog):
    """SPOTIFY_TIMEOUT_SECONDS (0.5 here) bounds each whole exchange, however the bytes come."""
    caplog.set_level(logging.INFO, "chatbot_lambda")
    spotify.switches.trickle_head["token"] = 1  # the status line and headers, a byte every 50 ms
    started = time.perf_counter()
    reply = ask(live_app, "Fake Artist 5")
    assert time.perf_counter() - started < 1.5
    assert texts(reply)[0].startswith("‘Fake Artist 5’ 아티스트는 아직 몰라요. 다음 업데이트 때 찾아 둘게요.")
    assert "POST /api/token failed after at most 0.50 s: the answer took longer" in _outcome(caplog)["detail"]
    spotify.switches.trickle["search"] = 1  # the body, a byte every 50 ms: each read alone is quick
    started = time.perf_counter()
    reply = ask(live_app, "Fake Artist 6")
    assert time.perf_counter() - started < 1.5
    assert texts(reply)[0].startswith("‘Fake Artist 6’ 아티스트는 아직 몰라요. 다음 업데이트 때 찾아 둘게요.")
    assert "took longer than 0.50 s" in _outcome(caplog)["detail"]
    spotify.switches.oversized["search"] = 1  # 64 MiB announced and sent
    started = time.perf_counter()
    reply = ask(live_app, "Fake Artist 8")
    assert time.perf_counter() - started < 1.5
    assert texts(reply)[0].startswith("‘Fake Artist 8’ 아티스트는 아직 몰라요. 다음 업데이트 때 찾아 둘게요.")
    assert "a body over 1048576 bytes" in _outcome(caplog)["detail"]
    spotify.switches.trickle["top-tracks"] = 1  # the artist is still answered, without its tracks
    started = time.perf_counter()
    reply = ask(live_app, "Fake Artist 7")
    assert time.perf_counter() - started < 1.5
    assert headers(reply) == ["Fake Artist 7"] and cards(reply)[0]["items"][0]["title"] == "유튜브에서 찾아보기"
    assert [row[0] for row in requests_rows(served_mart)] == [
        "fakeartist5",
        "fakeartist6",
        "fakeartist7",
        "fakeartist8",
    ]
    assert headers(ask(live_app, "Fake Artist 9")) == ["Fake Artist 9"]  # and the next lookup is whole


def _outcome(caplog) -> dict:
    return [
        {"outcome": r.outcome, "detail": getattr(r, "detail", "")}
        for r in caplog.records
        if r.name == "chatbot_lambda" and hasattr(r, "outcome")
    ][-1]


@pytest.mark.parametrize("sentence", ["배고파요", "사랑해요", "오늘 뭐해?", "노래 좋다"])
def test_a_sentence_is_neither_searched_nor_offered_nor_recorded(live_app, spotify, served_mart, sentence):
    """Spotify's search answers something for nearly any text: an everyday sentence would be offered a
    random band, and one tap would teach it as an alias."""
    reply = ask(live_app, sentence)
    assert texts(reply)[0].startswith("아티스트 이름을 찾지 못했어요."), sentence
    assert spotify.queries == [] and requests_rows(served_mart) == [] and confirmations(served_mart) == []


def test_a_sentence_holding_a_known_name_is_answered(live_app, spotify):
    assert headers(ask(live_app, "블랙핑크 좋다"))[0] == "BLACKPINK"
    assert headers(ask(live_app, "레드벨벳 너무 좋아요"))[0] == "Red Velvet"
    assert spotify.queries == []
