"""Aliases learned in the loop, end to end: verified chat users confirm what a live lookup found for a
Korean name -> the mart keeps their confirmations -> ``jobs/ingest.py --requests`` learns the alias
only when earned and writes the lake's artist_aliases -> the similarity job publishes them -> the same
question is answered from the mart, Spotify switched off -> ``python -m jobs.aliases`` removes it for
good. Curated aliases (``--aliases-csv``) and carrying aliases forward too."""

from __future__ import annotations

import pytest

from chatbot_lambda.app import SkillApp
from chatbot_lambda.settings import Settings
from jobs import aliases as aliases_job
from jobs import ingest, similarity
from jobs.common.lake import Lake
from jobs.publish.mart import Mart
from jobs.publish.settings import PublishSettings
from mart import serving
from shared.names import name_key
from tests.support.fake_spotify import Catalog, FakeSpotify
from tests.support.skill_calls import REQUEST_KEY, SKILL_SECRET, ask, headers, tap, texts

DT, LATER = "2026-11-20", "2026-11-21"


def _confirm(url: str, typed: str, artist_id: str, users: int) -> None:
    """``users`` verified users' confirmations that ``typed`` names ``artist_id``, as the chatbot keeps them."""
    conn = serving.connect(url)
    for user in range(users):
        serving.fetch_all(
            conn,
            "INSERT INTO alias_confirmations (alias_key, artist_id, user_hash, typed, confirmed_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (name_key(typed), artist_id, f"{user:032x}", typed, "2026-11-19 12:00:00.000"),
        )
    conn.close()


@pytest.mark.clock
def test_an_alias_is_learned_only_when_earned_served_from_the_mart_and_removed_for_good(
    spark, tmp_path, capsys, monkeypatch
):
    """Chat users confirm 페이크원 for Fake Artist 1 -> the ingest learns it only because three verified
    users did, a fresh search finds that artist, and nothing outranks it; the other confirmed aliases
    each fail one rule -> the publish serves it -> ``python -m jobs.aliases remove --mart`` stops it now,
    and later ingests neither carry it forward nor learn it again from the same confirmations."""
    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "id")
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "secret")
    url, lake_dir = f"jdbc:sqlite:{tmp_path / 'mart.db'}", str(tmp_path / "lake")
    Mart(spark, PublishSettings.from_config({"mart": {"url": url}}, {})).close()  # an empty mart
    catalog = Catalog.generate(7)
    ids = {artist["name"]: artist_id for artist_id, artist in catalog.artists.items()}
    aliases_csv = tmp_path / "aliases.csv"
    aliases_csv.write_text("artist,alias\nFake Artist 2,페이크투\nNobody,없는사람\n", encoding="utf-8")
    with FakeSpotify(catalog) as api:
        api.switches.hits.update(
            {
                "페이크원": [ids["Fake Artist 1"]],
                "페이크투": [ids["Fake Artist 3"]],
                "Fake Artist 4": [ids["Fake Artist 3"]],
                "페이크식스": [ids["Fake Artist 2"]],
                "페이크파이브": [ids["Fake Artist 5"]],
            }
        )
        live = SkillApp(
            Settings.from_env(
                {
                    "REQUEST_KEY": REQUEST_KEY,
                    "SKILL_SECRET": SKILL_SECRET,
                    "MART_URL": url,
                    "SPOTIPY_CLIENT_ID": "id",
                    "SPOTIPY_CLIENT_SECRET": "s",
                    "SPOTIFY_API_URL": api.api_url,
                    "SPOTIFY_TOKEN_URL": api.token_url,
                }
            )
        )
        for fan in ("fan-1", "fan-2", "fan-3"):
            answer = tap(live, ask(live, "페이크원", user=fan), 0, user=fan)  # "네, 맞아요"
            assert headers(answer) == ["Fake Artist 1"] and "페이크원" in texts(answer)[0]
        live.repository.close()
        _confirm(url, "페이크파이브", ids["Fake Artist 5"], 2)  # too few users
        _confirm(url, "페이크원 노래", ids["Fake Artist 1"], 3)  # request words ("BLACKPINK 노래")
        _confirm(url, "페이크투", ids["Fake Artist 3"], 3)  # a curated alias has the key
        _confirm(url, "Fake Artist 4", ids["Fake Artist 3"], 3)  # another artist's name
        _confirm(url, "페이크식스", ids["Fake Artist 6"], 3)  # search does not find that artist

        seeds = ",".join(ids[f"Fake Artist {i}"] for i in (2, 3, 4))
        common = ["--lake", lake_dir, "--set", f"mart.url={url}"]
        spotify = [
            "--source",
            "spotify",
            "--seeds",
            seeds,
            "--requests",
            "--aliases-csv",
            str(aliases_csv),
            "--set",
            f"spotify.api_url={api.api_url}",
            "--set",
            f"spotify.token_url={api.token_url}",
            "--set",
            f"spotify.features_provider_url={api.provider_url}",
            *common,
        ]
        assert ingest.main(["--dt", DT, *spotify]) == 0
        logged = capsys.readouterr().err
        lake = Lake(spark, lake_dir)
        learned = sorted((r.artist_id, r.alias, r.source) for r in lake.read("artist_aliases", DT).collect())
        assert learned == sorted(
            [(ids["Fake Artist 1"], "페이크원", "chat"), (ids["Fake Artist 2"], "페이크투", "curated")]
        )
        for why in (
            "'페이크원 노래' -> {} : it holds request words (노래)".format(ids["Fake Artist 1"]).replace(" :", ":"),
            "'페이크식스' -> {}: a search for it does not return that artist".format(ids["Fake Artist 6"]),
            "'페이크투' -> {}: a curated alias has its key".format(ids["Fake Artist 3"]),
            "'Fake Artist 4' -> {}: it is another artist's name".format(ids["Fake Artist 3"]),
        ):
            assert why in logged
        assert "페이크파이브" not in logged  # two users: not even weighed
        assert similarity.main(["--dt", DT, *common]) == 0  # computes and publishes

        offline = SkillApp(Settings.from_env({"REQUEST_KEY": REQUEST_KEY, "MART_URL": url}))  # no Spotify
        try:
            assert headers(ask(offline, "페이크원"))[0] == "Fake Artist 1"
            assert headers(ask(offline, "페이크투 노래 추천해줘"))[0] == "Fake Artist 2"
            assert headers(ask(offline, "ㅍㅇㅋㅇ"))[0] == "Fake Artist 1"  # 초성 of the learned alias
            capsys.readouterr()
            assert aliases_job.main([*common, "list"]) == 0
            assert capsys.readouterr().out == f"{ids['Fake Artist 1']}\tFake Artist 1\t페이크원\n"
            assert aliases_job.main([*common, "remove", "페이크투"]) == 2  # curated: not here
            assert aliases_job.main([*common, "remove", "페이크원", "--mart"]) == 0
            assert headers(ask(offline, "페이크원")) == []  # not served from now on
            assert headers(ask(offline, "페이크투"))[0] == "Fake Artist 2"
        finally:
            offline.repository.close()

        # The same users' confirmations again: the removal holds, and the curated alias is carried forward.
        _confirm(url, "페이크원", ids["Fake Artist 1"], 3)
        assert ingest.main(["--dt", LATER, *spotify]) == 0
    assert sorted(r.alias for r in lake.read("artist_aliases", LATER).collect()) == ["페이크투"]
