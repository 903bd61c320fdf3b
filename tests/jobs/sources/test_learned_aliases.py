"""Which aliases chat users taught are learned: the rules as pure functions (the whole loop, with
Spark, Spotify and the mart: tests/jobs/test_alias_loop.py)."""

from __future__ import annotations

import pytest

from jobs.sources.aliases import choose_aliases
from jobs.sources.learned_aliases import Candidate, confirmed_by_search, screen
from jobs.sources.spotify import SpotifyError
from shared.names import name_key


def row(artist_id: str, alias: str, source: str = "chat", fresh: bool = True) -> tuple:
    return artist_id, alias, source, name_key(alias), fresh


def test_a_curated_alias_always_wins_over_a_learned_one():
    rows = [row("bp", "블랙핑크", "curated", fresh=False), row("x", "블랙핑크", fresh=False), row("y", "블랙핑크")]
    assert choose_aliases(rows, set(), {}) == [("bp", "블랙핑크", "curated")]


def test_a_learned_alias_never_takes_another_artists_name():
    rows = [row("x", "Red Velvet"), row("rv", "레드벨벳")]
    assert choose_aliases(rows, set(), {"redvelvet": {"rv"}}) == [("rv", "레드벨벳", "chat")]


def test_an_alias_carried_forward_keeps_its_key_and_fresh_rivals_cancel_out():
    carried = [row("iu", "아이유", fresh=False), row("forged", "아이유")]
    assert choose_aliases(carried, set(), {}) == [("iu", "아이유", "chat")]
    rivals = [row("a", "페이크"), row("b", "페이크")]
    assert choose_aliases(rivals, set(), {}) == []


def test_a_removed_alias_is_neither_carried_nor_learned_again():
    rows = [row("iu", "아이유", fresh=False), row("iu", "아이유"), row("nj", "뉴진스", fresh=False)]
    assert choose_aliases(rows, {("iu", "아이유")}, {}) == [("nj", "뉴진스", "chat")]


def test_an_alias_with_request_words_learned_earlier_is_not_carried_forward():
    rows = [row("forged", "BLACKPINK 노래", fresh=False), row("bp", "블핑", fresh=False)]
    assert choose_aliases(rows, set(), {}) == [("bp", "블핑", "chat")]


def test_each_artist_and_key_once():
    rows = [row("iu", "아이유", fresh=False), row("iu", "아이 유"), row("nj", "뉴진스"), row("nj", "뉴 진스")]
    assert choose_aliases(rows, set(), {}) == [("iu", "아이유", "chat"), ("nj", "뉴진스", "chat")]


def candidate(typed: str, artist_id: str = "bp", users: int = 3) -> Candidate:
    return Candidate(name_key(typed), artist_id, typed, users)


@pytest.mark.parametrize(
    "typed", ["BLACKPINK 노래", "블랙핑크 노래 추천해줘", "blackpink songs", "블랙핑크랑 비슷한 가수"]
)
def test_an_alias_with_request_words_is_never_learned(typed, caplog):
    assert screen([candidate(typed)], set()) == []
    assert "it holds request words" in caplog.text


def test_screening_keeps_plain_names_and_drops_removed_ones():
    assert screen([candidate("블랙핑크"), candidate("블핑")], {("bp", "블핑")}) == [candidate("블랙핑크")]


class _Search:
    """Search results by text; a text in ``fail`` raises as a spent quota would."""

    def __init__(self, results: dict, fail: str = ""):
        self.results, self.fail, self.asked = results, fail, []

    def search_artist_ids(self, text: str, limit: int) -> list[str]:
        self.asked.append((text, limit))
        if text == self.fail:
            raise SpotifyError("quota spent. details")
        return self.results.get(text, [])[:limit]


def test_a_fresh_search_must_find_the_artist_among_its_first_results(caplog):
    search = _Search({"블랙핑크": ["x", "bp"], "블핑": ["a", "b", "c", "bp"], "페이크": ["zz"]})
    kept = confirmed_by_search(search, [candidate("블랙핑크"), candidate("블핑"), candidate("페이크")], 3)
    assert kept == [candidate("블랙핑크")]
    assert search.asked == [("블랙핑크", 3), ("블핑", 3), ("페이크", 3)]
    assert caplog.text.count("a search for it does not return that artist among its first 3") == 2


def test_a_spotify_stop_leaves_the_rest_for_the_next_run(caplog):
    search = _Search({"블랙핑크": ["bp"], "뉴진스": ["bp"]}, fail="블핑")
    kept = confirmed_by_search(search, [candidate("블랙핑크"), candidate("블핑"), candidate("뉴진스")], 5)
    assert kept == [candidate("블랙핑크")] and len(search.asked) == 2
    assert "Spotify stopped the searches after 1 of 3 (quota spent)" in caplog.text
