"""Aliases learned in the loop, end to end: a chat user confirms what a live lookup found for a Korean
name -> the mart records the request with the Spotify id -> ``jobs/ingest.py --requests`` writes the
lake's artist_aliases -> the similarity job publishes them -> the same question is answered from the
mart, Spotify switched off. Curated aliases (``--aliases-csv``) and carrying aliases forward too."""

from __future__ import annotations

import pytest

from jobs import ingest, similarity
from jobs.common.lake import Lake
from jobs.publish.mart import Mart
from jobs.publish.settings import PublishSettings
from chatbot_lambda.app import SkillApp
from chatbot_lambda.settings import Settings
from mart import serving
from tests.support.fake_spotify import Catalog, FakeSpotify
from tests.support.skill_calls import REQUEST_KEY, ask, headers, tap, texts

DT, LATER = "2026-11-20", "2026-11-21"


@pytest.mark.clock
def test_a_confirmed_korean_name_is_ingested_published_and_answered_from_the_mart(spark, tmp_path, monkeypatch):
    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "id")
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "secret")
    url, lake_dir = f"jdbc:sqlite:{tmp_path / 'mart.db'}", str(tmp_path / "lake")
    Mart(spark, PublishSettings.from_config({"mart": {"url": url}}, {})).close()        # an empty mart
    catalog = Catalog.generate(6)
    ids = {artist["name"]: artist_id for artist_id, artist in catalog.artists.items()}
    aliases_csv = tmp_path / "aliases.csv"
    aliases_csv.write_text("artist,alias\nFake Artist 2,페이크투\nNobody,없는사람\n", encoding="utf-8")
    with FakeSpotify(catalog) as api:
        api.switches.hits["페이크원"] = [ids["Fake Artist 1"]]          # Spotify finds IU for 아이유, say
        live = SkillApp(Settings.from_env({"REQUEST_KEY": REQUEST_KEY, "MART_URL": url, "SPOTIPY_CLIENT_ID": "id", "SPOTIPY_CLIENT_SECRET": "s",
                                           "SPOTIFY_API_URL": api.api_url, "SPOTIFY_TOKEN_URL": api.token_url}))
        offer = ask(live, "페이크원", user="fan-1")
        answer = tap(live, offer, 0, user="fan-1")                      # "네, 맞아요"
        assert headers(answer) == ["Fake Artist 1"] and "페이크원" in texts(answer)[0]
        live.repository.close()
        conn = serving.connect(url)
        assert serving.fetch_all(conn, "SELECT name, spotify_artist_id FROM artist_requests") == [
            ("페이크원", ids["Fake Artist 1"])]
        conn.close()

        seeds = ",".join(ids[f"Fake Artist {i}"] for i in (2, 3, 4))
        common = ["--lake", lake_dir, "--set", f"mart.url={url}"]
        assert ingest.main(["--source", "spotify", "--dt", DT, "--seeds", seeds, "--requests",
                            "--aliases-csv", str(aliases_csv), *common,
                            "--set", f"spotify.api_url={api.api_url}", "--set", f"spotify.token_url={api.token_url}",
                            "--set", f"spotify.features_provider_url={api.provider_url}"]) == 0
    lake = Lake(spark, lake_dir)
    learned = sorted((r.artist_id, r.alias, r.source) for r in lake.read("artist_aliases", DT).collect())
    assert learned == sorted([(ids["Fake Artist 1"], "페이크원", "chat"), (ids["Fake Artist 2"], "페이크투", "curated")])
    assert similarity.main(["--dt", DT, *common]) == 0                 # computes and publishes

    offline = SkillApp(Settings.from_env({"REQUEST_KEY": REQUEST_KEY, "MART_URL": url}))          # no Spotify at all
    try:
        assert headers(ask(offline, "페이크원"))[0] == "Fake Artist 1"
        assert headers(ask(offline, "페이크투 노래 추천해줘"))[0] == "Fake Artist 2"
        assert headers(ask(offline, "ㅍㅇㅋㅇ"))[0] == "Fake Artist 1"     # 초성 of the learned alias
    finally:
        offline.repository.close()

    # The next snapshot (a synthetic one here) carries the aliases forward.
    assert ingest.main(["--source", "synthetic", "--artists", "30", "--dt", LATER, *common]) == 0
    assert sorted(r.alias for r in lake.read("artist_aliases", LATER).collect()) == ["페이크원", "페이크투"]
