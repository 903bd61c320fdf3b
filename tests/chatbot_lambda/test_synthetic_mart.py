"""The chatbot over a demo-like mart (the synthetic source's artists, a few with Hangul names and their
romanizations as aliases), on MariaDB and on SQLite: what a Korean fan trying the demo types is answered."""

from __future__ import annotations

import pytest

from chatbot_lambda.app import SkillApp
from chatbot_lambda.settings import Settings
from tests.chatbot_lambda import synthetic_mart
from tests.support.answers import requests_rows
from tests.support.skill_calls import REQUEST_KEY, ask, cards, headers, quick_replies, texts


@pytest.fixture
def demo(any_mart):
    conn = any_mart.reader()
    synthetic_mart.fill(conn, any_mart.dialect)
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
    yield skill, any_mart
    skill.repository.close()


def test_a_hangul_name_its_initials_and_its_romanization_answer_the_artist(demo):
    app, _ = demo
    artists = synthetic_mart.hangul_artists()
    assert len(artists) >= 3
    for artist in artists[:3]:
        for typed in (
            artist.name,
            artist.initials,
            artist.romanized,
            artist.romanized.lower().replace(" ", ""),
            f"{artist.name} 노래 추천해줘",
        ):
            reply = ask(app, typed)
            assert headers(reply)[:1] == [artist.name], (typed, texts(reply))
            assert [item["title"] for item in cards(reply)[0]["items"]] == artist.tracks[:3], typed
            assert "아직 몰라요" not in texts(reply)[0]


def one_jamo_more(name: str) -> str:
    """``name`` with one letter more in its last syllable: a final consonant added or changed (지도 -> 지독)."""
    return name[:-1] + chr(ord(name[-1]) + (1 if (ord(name[-1]) - 0xAC00) % 28 < 27 else -1))


def test_typos_of_synthetic_names_in_either_script_get_the_name_not_a_promise(demo):
    app, mart = demo
    artist = synthetic_mart.hangul_artists()[0]
    latin = next(
        row[1]
        for row in sorted(synthetic_mart.rows()["artists"], key=lambda row: -row[6])
        if " " in row[1] and row[1].isascii() and len(row[1]) >= 10
    )
    for typed, expected in (
        (latin[:-1] + "q", latin),
        (latin.lower()[:-1] + "q", latin),
        (artist.romanized[:-1] + "q", artist.name),
        (one_jamo_more(artist.name), artist.name),
    ):
        reply = ask(app, typed)
        assert texts(reply) == [f"‘{typed}’, 혹시 {expected} 찾으셨나요? 아래에서 눌러 보세요."], typed
        assert quick_replies(reply)[0] == expected and "업데이트" not in texts(reply)[0]
    # Without Spotify to ask, each is still noted for the next batch; no reply promised it.
    assert sum(times for *_, times in requests_rows(mart)) == 4
