"""What the chatbot answers, on a real MariaDB and on SQLite, with live lookups against the fake Spotify."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from chatbot_lambda.app import SkillApp
from chatbot_lambda.settings import Settings
from mart import serving
from tests.fake_spotify import Catalog, FakeSpotify
from tests.skill_calls import (ask, cards, headers, http_api_event, quick_replies, reply_of, rest_api_event,
                               skill_body, texts)

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "examples"


def search_terms(url: str) -> str:
    return parse_qs(urlsplit(url).query)["search_query"][0]


def requests_rows(mart) -> list[tuple]:
    conn = mart.reader()
    try:
        return serving.fetch_all(conn, "SELECT name_key, name, spotify_artist_id, times FROM artist_requests "
                                       "ORDER BY name_key")
    finally:
        conn.close()


@pytest.mark.parametrize("typed", ["BLACKPINK", "blackpink", "  Black Pink \n", "ＢＬＡＣＫＰＩＮＫ", "블랙핑크", "블핑"])
def test_a_known_artist_by_any_spelling_or_alias(app, typed):
    reply = ask(app, typed)
    assert texts(reply) == ["BLACKPINK: top tracks, then 3 artists that sound alike. Tap a song to hear it."]
    assert headers(reply) == ["BLACKPINK", "TWICE", "Red Velvet", "NewJeans"]
    first = cards(reply)[0]
    assert [item["title"] for item in first["items"]] == ["BLACKPINK Song 1", "BLACKPINK Song 2", "BLACKPINK Song 3"]
    assert first["items"][0]["description"] == "BLACKPINK Album"
    assert first["items"][0]["imageUrl"] == "https://i.test/bp/1"
    assert search_terms(first["items"][0]["link"]["web"]) == "BLACKPINK BLACKPINK Song 1"
    assert first["buttons"] == [{"label": "More songs", "action": "webLink",
                                 "webLinkUrl": "https://www.youtube.com/results?search_query=BLACKPINK"}]
    related = cards(reply)[2]
    assert search_terms(related["items"][1]["link"]["web"]) == "Red Velvet Red Velvet Song 2"
    assert quick_replies(reply) == ["TWICE", "Red Velvet", "NewJeans"]


def test_the_kakao_example_request_through_rest_and_http_api_events_plain_and_base64(app):
    body = (EXAMPLES / "kakao_skill_request.json").read_text(encoding="utf-8")
    for make in (http_api_event, rest_api_event):
        for encoded in (False, True):
            reply = reply_of(app.handle(make(body, base64_body=encoded)))
            assert headers(reply)[0] == "BLACKPINK", (make.__name__, encoded)


def test_the_artist_parameter_wins_over_the_utterance(app):
    reply = reply_of(app.handle(http_api_event(skill_body("please play something like red velvet",
                                                          artist="레드벨벳"))))
    assert headers(reply)[0] == "Red Velvet"


def test_generated_artists_answer_with_their_related_artists_in_rank_order(app):
    reply = ask(app, "artist 42")
    assert headers(reply) == ["Artist 42", "Artist 43", "Artist 44", "Artist 45"]
    assert all(len(card["items"]) == 3 for card in cards(reply))


@pytest.mark.parametrize("typed, expected", [
    ("blakpink", "BLACKPINK"), ("redvelvit", "Red Velvet"), ("레드벨벹", "Red Velvet"),
    ("Artst 123", "Artist 123"), ("newjean", "NewJeans"), ("twicee", "TWICE"),
])
def test_a_near_miss_proposes_the_closest_names_as_quick_replies(app, typed, expected):
    reply = ask(app, typed)
    assert quick_replies(reply)[0] == expected, quick_replies(reply)
    assert "Did you mean" in texts(reply)[0] and cards(reply) == []
    assert len(quick_replies(reply)) <= 5


def test_nothing_close_proposes_popular_artists(app):
    reply = ask(app, "qqqqqqqqqqqq")
    assert "Check the spelling" in texts(reply)[0]
    assert quick_replies(reply)[:3] == ["BLACKPINK", "IU", "NewJeans"]


def test_an_empty_message_gets_a_hint_and_popular_names(app):
    for typed in ("", "   \n", "!!!", "🎵🎵"):
        reply = ask(app, typed)
        assert texts(reply)[0].startswith("Type an artist's name"), typed
        assert "BLACKPINK" in quick_replies(reply)


def test_an_unknown_name_without_live_lookups_is_queued_for_the_next_batch(app, served_mart):
    ask(app, "Some New Band")
    reply = ask(app, "some new band ")
    assert 'I do not know "some new band" yet' in texts(reply)[0]
    assert requests_rows(served_mart) == [("somenewband", "some new band", None, 2)]


# -- live lookups through the fake Spotify --------------------------------------------------------------

@pytest.fixture
def spotify():
    with FakeSpotify(Catalog.generate(50)) as api:
        yield api


@pytest.fixture
def live_app(skill_env, spotify):
    env = {**skill_env, "SPOTIPY_CLIENT_ID": "id", "SPOTIPY_CLIENT_SECRET": "secret",
           "SPOTIFY_API_URL": spotify.api_url, "SPOTIFY_TOKEN_URL": spotify.token_url,
           "SPOTIFY_TIMEOUT_SECONDS": "0.5"}
    skill = SkillApp(Settings.from_env(env))
    yield skill
    skill.repository.close()


def _fake_artist(spotify, i: int) -> dict:
    return next(a for a in spotify.catalog.artists.values() if a["name"] == f"Fake Artist {i}")


def test_an_artist_only_spotify_knows_is_answered_live_and_recorded(live_app, spotify, served_mart):
    artist = _fake_artist(spotify, 7)
    reply = ask(live_app, "fake artist 7")
    assert "Fake Artist 7 is new to me" in texts(reply)[0] and "next update" in texts(reply)[0]
    assert headers(reply) == ["Fake Artist 7"]
    assert [item["title"] for item in cards(reply)[0]["items"]] == ["Song 0 by 7", "Song 1 by 7", "Song 2 by 7"]
    assert search_terms(cards(reply)[0]["items"][0]["link"]["web"]) == "Fake Artist 7 Song 0 by 7"
    ask(live_app, "Fake Artist 7")
    assert requests_rows(served_mart) == [("fakeartist7", "Fake Artist 7", artist["id"], 2)]
    searches = [q for name, q in spotify.queries if name == "search"]
    assert searches[0]["type"] == "artist" and searches[0]["market"] == "KR"
    assert spotify.calls["token"] == 1          # one token for the warm container


def test_where_top_tracks_are_closed_track_search_stands_in_once_known(live_app, spotify):
    spotify.switches.closed.add("top-tracks")
    for i in (3, 4):
        reply = ask(live_app, f"Fake Artist {i}")
        assert [item["title"] for item in cards(reply)[0]["items"]] == [f"Song {t} by {i}" for t in range(3)]
    assert spotify.calls["top-tracks"] == 1     # closed once, then not asked again
    track_searches = [q for name, q in spotify.queries if name == "search" and q["type"] == "track"]
    assert [q["q"] for q in track_searches] == ['artist:"Fake Artist 3"', 'artist:"Fake Artist 4"']


def test_a_name_found_nowhere_suggests_and_records_nothing(live_app, served_mart):
    reply = ask(live_app, "blakpink")
    assert 'could not find "blakpink" anywhere' in texts(reply)[0]
    assert quick_replies(reply)[0] == "BLACKPINK"
    assert requests_rows(served_mart) == []


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
        live_app.spotify.settings = Settings(**{**live_app.settings.__dict__,
                                                "spotify_api_url": "http://127.0.0.1:9/v1/"})
    started = time.perf_counter()
    reply = ask(live_app, "Fake Artist 9")
    assert time.perf_counter() - started < 2.0
    assert 'I do not know "Fake Artist 9" yet. I noted it' in texts(reply)[0]
    assert requests_rows(served_mart) == [("fakeartist9", "Fake Artist 9", None, 1)]
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "chatbot_lambda"]
    assert logged[-1]["outcome"] == "queued" and "Spotify" in logged[-1]["detail"]


def test_after_a_429_the_container_leaves_spotify_alone_until_retry_after(live_app, spotify, served_mart):
    spotify.switches.rate, spotify.switches.retry_after = 1, 60
    reply = ask(live_app, "Fake Artist 1")      # the search passes, top tracks are refused
    assert "Fake Artist 1 is new to me" in texts(reply)[0]
    assert cards(reply)[0]["items"][0]["title"] == "Search on YouTube"     # the artist without its tracks
    assert requests_rows(served_mart)[0][2] == _fake_artist(spotify, 1)["id"]
    calls = sum(spotify.calls.values())
    reply = ask(live_app, "Fake Artist 2")
    assert "noted it" in texts(reply)[0]
    assert sum(spotify.calls.values()) == calls


def test_a_long_spotify_outage_never_exceeds_the_time_budget(skill_env, spotify):
    spotify.switches.slow.update({"token": 0.4, "search": 0.4, "top-tracks": 0.4})
    env = {**skill_env, "SPOTIPY_CLIENT_ID": "id", "SPOTIPY_CLIENT_SECRET": "secret",
           "SPOTIFY_API_URL": spotify.api_url, "SPOTIFY_TOKEN_URL": spotify.token_url,
           "SPOTIFY_TIMEOUT_SECONDS": "1", "TIME_BUDGET_SECONDS": "1"}
    skill = SkillApp(Settings.from_env(env))
    started = time.perf_counter()
    reply = ask(skill, "Fake Artist 5")
    elapsed = time.perf_counter() - started
    skill.repository.close()
    assert elapsed < 1.5, elapsed
    assert "noted it" in texts(reply)[0]


def test_suggestions_find_close_names_among_many_sharing_common_pieces(any_mart):
    """20,000 "Artist N" names all share "art": candidates sharing more pieces must come first."""
    from tests import chatbot_mart

    conn = any_mart.reader()
    chatbot_mart.fill(conn, any_mart.dialect, 20_000)
    conn.close()
    skill = SkillApp(Settings.from_env({"MART_URL": any_mart.url, "MART_USER": any_mart.user,
                                        "MART_PASSWORD": any_mart.password}))
    try:
        for typed, expected in (("Artst 123", "Artist 123"), ("artist 1234x", "Artist 1234"),
                                ("Artist 19999!", "Artist 19999"), ("Arist 7", "Artist 7")):
            assert quick_replies(ask(skill, typed))[0] == expected, typed
    finally:
        skill.repository.close()
