"""Spotify ingest against a fake Web API on 127.0.0.1, through real spotipy."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs import ingest
from jobs.common.lake import Lake
from jobs.sources.spotify import QuotaExceeded, SpotifyCatalog, SpotifyError, SpotifySettings, fetch_snapshot
from tests.fake_spotify import Catalog, FakeSpotify

REPO = Path(__file__).resolve().parents[1]
CATALOG = Catalog.generate(120, tracks_per_artist=10)
IDS = list(CATALOG.artists)


class NoProgress:
    def __init__(self, *args):
        pass

    def advance(self, n=1):
        pass

    def close(self):
        pass


@pytest.fixture
def api():
    with FakeSpotify(CATALOG) as server:
        yield server


def settings_for(api, **overrides) -> SpotifySettings:
    values = {"api_url": api.api_url, "token_url": api.token_url, "features_provider_url": api.provider_url,
              "timeout": 2.0, "backoff": 0.01, **overrides}
    return SpotifySettings(client_id="id", client_secret="secret", **values)


def snapshot(api, ids=IDS, **overrides):
    catalog = SpotifyCatalog(settings_for(api, **overrides))
    return catalog, fetch_snapshot(catalog, ids, NoProgress)


def test_full_access_uses_the_largest_batches(api):
    catalog, snap = snapshot(api)
    assert len(snap.artists) == 120 and len(snap.top_tracks) == 1200 and len(snap.audio_features) == 1200
    assert api.calls["several-artists"] == 3 and api.calls["audio-features"] == 12
    assert api.calls["top-tracks"] == 120 and api.calls["artist"] == 0 and api.calls["search"] == 0
    first = snap.top_tracks[0]
    assert first[2] == 1 and first[3].startswith("Song 0") and first[-1] == "spotify"
    assert {row[-1] for row in snap.audio_features} == {"spotify"}


def test_closed_endpoints_fall_back_are_reported_once_and_not_called_again(api, caplog):
    api.switches.closed.update({"several-artists", "top-tracks", "audio-features"})
    with caplog.at_level(logging.WARNING, logger="jobs.sources.spotify"):
        catalog, snap = snapshot(api)
    assert len(snap.artists) == 120 and len(snap.top_tracks) == 1200 and len(snap.audio_features) == 1200
    assert api.calls["several-artists"] == 1 and api.calls["top-tracks"] == 1 and api.calls["audio-features"] == 1
    assert api.calls["artist"] == 120 and api.calls["search"] == 120 and api.calls["provider"] == 30
    closed = [r.getMessage() for r in caplog.records if "is closed to this app" in r.getMessage()]
    assert len(closed) == 3 and any("track search by artist name" in m for m in closed)
    assert {row[-1] for row in snap.audio_features} == {"provider"}
    # The provider's features are the track's own, matched through its Spotify href.
    some = snap.audio_features[0]
    assert some[1] == pytest.approx(CATALOG.features[some[0]]["danceability"])


def test_features_closed_without_a_provider_are_counted_missing(api):
    api.switches.closed.add("audio-features")
    catalog, snap = snapshot(api, features_provider_url="")
    assert snap.audio_features == [] and catalog.stats["tracks_without_features"] == 1200


def test_unknown_ids_are_skipped_and_counted(api):
    catalog, snap = snapshot(api, ids=IDS[:5] + ["0" * 22, "1" * 22])
    assert len(snap.artists) == 5 and catalog.stats["skipped_artists"] == 2
    api.switches.closed.add("several-artists")
    catalog, snap = snapshot(api, ids=IDS[:5] + ["0" * 22])
    assert len(snap.artists) == 5 and catalog.stats["skipped_artists"] == 1


def test_a_429_waits_retry_after_and_gets_everything(api):
    api.switches.rate, api.switches.window = 20, 1.0
    started = time.monotonic()
    catalog, snap = snapshot(api, ids=IDS[:40])
    assert len(snap.artists) == 40 and len(snap.audio_features) == 400
    assert catalog.stats["rate_limited"] >= 1 and api.calls["429"] >= 1
    assert time.monotonic() - started >= 2.0   # 40 + 1 + 4 calls at 20 a second


def test_an_absurd_retry_after_stops_the_run_cleanly(api):
    api.switches.rate, api.switches.retry_after = 2, 86400
    with pytest.raises(QuotaExceeded, match="Retry-After '86400'.*quota"):
        snapshot(api, ids=IDS[:10])


def test_5xx_and_malformed_json_are_retried_with_a_bound(api):
    api.switches.fail["several-artists"] = 2
    api.switches.malformed["audio-features"] = 1
    catalog, snap = snapshot(api, ids=IDS[:10])
    assert len(snap.artists) == 10 and len(snap.audio_features) == 100 and catalog.stats["retries"] == 3
    api.switches.fail["top-tracks"] = 100
    with pytest.raises(SpotifyError, match="top-tracks: HTTP 503, still after 2 retries"):
        snapshot(api, ids=IDS[:3], max_retries=2)


def test_timeouts_are_bounded(api):
    api.switches.slow["top-tracks"] = 1.0
    started = time.monotonic()
    with pytest.raises(SpotifyError, match="top-tracks: ReadTimeout, still after 1 retries"):
        snapshot(api, ids=IDS[:2], timeout=0.2, max_retries=1)
    assert time.monotonic() - started < 5


def spotify_argv(api, lake_dir, *extra):
    return ["--source", "spotify", "--lake", lake_dir, "--dt", "2026-11-20",
            "--set", f"spotify.api_url={api.api_url}", "--set", f"spotify.token_url={api.token_url}",
            "--set", f"spotify.features_provider_url={api.provider_url}", "--set", "spotify.backoff=0.01", *extra]


def test_ingest_from_names_and_ids_is_idempotent(spark, api, tmp_path, monkeypatch):
    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "id")
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "secret")
    lake_dir = str(tmp_path / "lake")
    argv = spotify_argv(api, lake_dir, "--seeds", f"{IDS[0]},{IDS[1]},fake artist 7,Nobody At All")
    for _ in range(2):
        assert ingest.main(argv) == 0
        lake = Lake(spark, lake_dir)
        artists = lake.read("artists", "2026-11-20")
        assert artists.count() == 3
        assert lake.read("top_tracks", "2026-11-20").count() == 30
        assert lake.read("audio_features", "2026-11-20").count() == 30
    assert "Fake Artist 7" in {r.name for r in artists.collect()}


def test_missing_credentials_and_quota_exits(spark, api, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SPOTIPY_CLIENT_ID", raising=False)
    lake_dir = str(tmp_path / "lake")
    assert ingest.main(spotify_argv(api, lake_dir, "--seeds", IDS[0])) == 2
    assert "SPOTIPY_CLIENT_ID" in capsys.readouterr().err
    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "id")
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "secret")
    api.switches.rate, api.switches.retry_after = 1, 7200
    assert ingest.main(spotify_argv(api, lake_dir, "--seeds", ",".join(IDS[:60]))) == 3
    assert "quota" in capsys.readouterr().err
    assert not Lake(spark, lake_dir).exists("artists")


def test_requests_from_the_mart_are_resolved_by_search(spark, api, tmp_path, monkeypatch):
    from mart import serving
    from jobs.publish.mart import Mart, PublishSettings
    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "id")
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "secret")
    url = f"jdbc:sqlite:{tmp_path / 'mart.db'}"
    Mart(spark, PublishSettings.from_config({"mart": {"url": url}}, {})).close()   # creates the tables
    conn = serving.connect(url)
    for name in ("Fake Artist 3", "Unknown Band"):
        serving.fetch_all(conn, "INSERT INTO artist_requests (name_key, name, first_requested_at, last_requested_at, "
                                "times) VALUES (?, ?, '2026-11-01', '2026-11-02', 1)", (name.lower(), name))
    conn.close()
    lake_dir = str(tmp_path / "lake")
    assert ingest.main(spotify_argv(api, lake_dir, "--requests", "--set", f"mart.url={url}")) == 0
    lake = Lake(spark, lake_dir)
    assert {r.name for r in lake.read("artists", "2026-11-20").collect()} == {"Fake Artist 3"}
    assert [(r.name, r.origin) for r in lake.read("unresolved_names", "2026-11-20").collect()] == \
        [("Unknown Band", "request")]


def test_a_run_killed_midway_leaves_the_dt_as_it_was_and_a_rerun_gives_one_copy(spark, tmp_path):
    lake_dir = str(tmp_path / "lake")
    with FakeSpotify(CATALOG) as api:
        env = dict(os.environ, SPOTIPY_CLIENT_ID="id", SPOTIPY_CLIENT_SECRET="secret", PYTHONUNBUFFERED="1")
        argv = [sys.executable, "jobs/ingest.py", *spotify_argv(api, lake_dir, "--seeds", ",".join(IDS)),
                "--set", "spark.master=local[1]", "--set", 'spark.conf."spark.driver.memory"=1g']
        assert subprocess.run(argv, cwd=REPO, env=env, capture_output=True).returncode == 0
        lake = Lake(spark, lake_dir)
        before = sorted(tuple(r) for r in lake.read("top_tracks", "2026-11-20").collect())

        api.switches.slow["top-tracks"] = 0.05
        process = subprocess.Popen(argv, cwd=REPO, env=env, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        calls = api.calls["top-tracks"]
        while api.calls["top-tracks"] < calls + 30:
            assert process.poll() is None
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        assert sorted(tuple(r) for r in lake.read("top_tracks", "2026-11-20").collect()) == before

        api.switches.slow.clear()
        assert subprocess.run(argv, cwd=REPO, env=env, capture_output=True).returncode == 0
    after = sorted(tuple(r) for r in lake.read("top_tracks", "2026-11-20").collect())
    assert after == before and len(after) == 1200
    assert lake.read("artists", "2026-11-20").count() == 120


def test_credentials_can_come_from_aws_secrets_manager(api, moto_aws):
    import boto3

    boto3.client("secretsmanager").create_secret(
        Name="spotify/app", SecretString='{"client_id": "from-secret", "client_secret": "s3cret"}')
    config = {"spotify": {"credentials_secret": "spotify/app", "api_url": api.api_url, "token_url": api.token_url}}
    settings = SpotifySettings.from_config(config, env={})
    assert (settings.client_id, settings.client_secret) == ("from-secret", "s3cret")
    assert len(SpotifyCatalog(settings).artists(IDS[:3])) == 3
