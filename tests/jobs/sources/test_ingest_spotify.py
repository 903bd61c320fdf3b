"""Spotify ingest against a fake Web API on 127.0.0.1, through real spotipy.

Over 300 lines: its cases share the fake API fixture and its helpers, the fault cases read best side by side.
"""

from __future__ import annotations

import datetime
import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from jobs import ingest
from jobs.common.lake import Lake
from jobs.sources.spotify import QuotaExceeded, SpotifyCatalog, SpotifyError
from jobs.sources.spotify_settings import SpotifySettings
from jobs.sources.spotify_snapshot import fetch_snapshot, resolve_names
from tests.support.fake_spotify import Catalog, FakeSpotify
from tests.support.paths import REPO
from tests.support.spark_conf import set_args

CATALOG = Catalog.generate(120, tracks_per_artist=10)
IDS = list(CATALOG.artists)


class NoProgress:
    def __init__(self, *args):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def advance(self, n=1):
        pass

    def close(self):
        pass


class Recorded:
    """A progress factory remembering ``label -> [total, done, closed]`` of each loop."""

    def __init__(self):
        self.loops = {}

    def __call__(self, label, total):
        loop = self.loops[label] = [total, 0, False]
        recorded = self

        class Bar(NoProgress):
            def advance(self, n=1):
                assert not loop[2], f"{label}: advanced after close"
                loop[1] += n

            def close(self):
                loop[2] = True

        recorded.last = Bar()
        return recorded.last


@pytest.fixture
def api():
    with FakeSpotify(CATALOG) as server:
        yield server


def settings_for(api, **overrides) -> SpotifySettings:
    values = {
        "api_url": api.api_url,
        "token_url": api.token_url,
        "features_provider_url": api.provider_url,
        "timeout": 2.0,
        "backoff": 0.01,
        **overrides,
    }
    return SpotifySettings(client_id="id", client_secret="secret", **values)


def snapshot(api, ids=IDS, progress=NoProgress, **overrides):
    catalog = SpotifyCatalog(settings_for(api, **overrides))
    return catalog, fetch_snapshot(catalog, ids, progress)


def sent(api, endpoint, parameter):
    """The values of ``parameter`` in the requests the fake got at ``endpoint``."""
    return [query.get(parameter) for name, query in api.queries if name == endpoint]


def test_full_access_uses_the_largest_batches(api):
    catalog, snap = snapshot(api)
    assert len(snap.artists) == 120 and len(snap.top_tracks) == 1200 and len(snap.audio_features) == 1200
    assert api.calls["several-artists"] == 3 and api.calls["audio-features"] == 12
    assert api.calls["top-tracks"] == 120 and api.calls["artist"] == 0 and api.calls["search"] == 0
    first = snap.top_tracks[0]
    assert (
        first[2] == 1 and first[3].startswith("Song 0") and first[9] == "spotify"
    )  # source; release_date (last) is None: the fake gives no album date
    assert {row[-1] for row in snap.audio_features} == {"spotify"}
    # The configured market (KR) goes with every top-tracks request (spotipy names the parameter country).
    assert set(sent(api, "top-tracks", "country")) == {"KR"}


def test_closed_endpoints_fall_back_are_reported_once_and_not_called_again(api, caplog):
    api.switches.closed.update({"several-artists", "top-tracks", "audio-features"})
    progress = Recorded()
    with caplog.at_level(logging.WARNING, logger="jobs.sources.spotify"):
        catalog, snap = snapshot(api, progress=progress)
    assert len(snap.artists) == 120 and len(snap.top_tracks) == 1200 and len(snap.audio_features) == 1200
    assert api.calls["several-artists"] == 1 and api.calls["top-tracks"] == 1 and api.calls["audio-features"] == 1
    assert api.calls["artist"] == 120 and api.calls["search"] == 120 and api.calls["provider"] == 30
    closed = [r.getMessage() for r in caplog.records if "is closed to this app" in r.getMessage()]
    assert len(closed) == 3 and any("track search by artist name" in m for m in closed)
    assert {row[-1] for row in snap.audio_features} == {"provider"}
    # The provider's features are the track's own, matched through its Spotify href.
    some = snap.audio_features[0]
    assert some[1] == pytest.approx(CATALOG.features[some[0]]["danceability"])
    # The track search standing in for top tracks asks for the configured market.
    assert set(sent(api, "search", "market")) == {"KR"} and len(sent(api, "search", "market")) == 120
    # Every long loop shows its progress, to the end: one-artist lookups, top tracks, both feature sources.
    assert progress.loops == {
        "artists": [120, 120, True],
        "top tracks": [120, 120, True],
        "audio features": [1200, 1200, True],
        "provider audio features": [1200, 1200, True],
    }


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


@pytest.mark.clock
def test_a_429_waits_retry_after_and_gets_everything(api):
    api.switches.rate, api.switches.window = 20, 1.0
    started = time.monotonic()
    catalog, snap = snapshot(api, ids=IDS[:40])
    assert len(snap.artists) == 40 and len(snap.audio_features) == 400
    assert catalog.stats["rate_limited"] >= 1 and api.calls["429"] >= 1
    assert 2.0 <= time.monotonic() - started < 15  # 40 + 1 + 4 calls at 20 a second, waits of 1 s


@pytest.mark.clock
def test_a_permanent_429_stops_after_a_bounded_number_of_waits(api):
    api.switches.rate, api.switches.retry_after = 0, 1  # every answer a 429 "wait 1 s"
    started, progress = time.monotonic(), Recorded()
    with pytest.raises(
        QuotaExceeded,
        match="several-artists: Spotify still answered 429 after 3 rate-limit waits "
        r"in a row .*max_rate_limit_waits.*quota",
    ):
        snapshot(api, ids=IDS[:10], progress=progress, max_rate_limit_waits=3)
    assert 3.0 <= time.monotonic() - started < 10
    assert api.calls["several-artists"] == 4
    assert progress.loops == {"artists": [10, 0, True]}  # the bar is closed (its last line said) on the way out


@pytest.mark.clock
def test_rate_limit_waits_count_only_in_a_row(api):
    sleeps = []
    api.switches.answers["several-artists"] = [429, 429, 503, 429, 429]
    catalog = SpotifyCatalog(settings_for(api, max_rate_limit_waits=2), sleep=sleeps.append)
    assert len(catalog.artists(IDS[:3])) == 3
    assert catalog.stats["rate_limited"] == 4 and catalog.stats["retries"] == 1 and len(sleeps) == 5


@pytest.mark.clock
def test_an_absurd_retry_after_stops_the_run_cleanly(api):
    api.switches.rate, api.switches.retry_after = 2, 86400
    with pytest.raises(QuotaExceeded, match="Retry-After '86400'.*quota"):
        snapshot(api, ids=IDS[:10])


@pytest.mark.clock
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


@pytest.mark.clock
def test_a_connection_broken_mid_answer_is_retried(api):
    api.switches.cut["several-artists"] = 1  # Content-Length promises more than comes, then the end
    api.switches.garbled["top-tracks"] = 1  # says gzip, is not: ContentDecodingError
    api.switches.cut["audio-features"] = 1
    catalog, snap = snapshot(api, ids=IDS[:10])
    assert len(snap.artists) == 10 and len(snap.top_tracks) == 100 and len(snap.audio_features) == 100
    assert catalog.stats["retries"] == 3 and api.calls["several-artists"] == 2


def test_a_trickling_answer_is_cut_off_at_the_request_timeout_and_retried(api):
    """spotify.timeout bounds a whole request: a body sent a byte every 50 ms (each read quick) is given up."""
    api.switches.trickle["several-artists"] = 1
    api.switches.trickle["token"] = 1
    api.switches.trickle_head["top-tracks"] = 1  # the status line and headers, a byte every 50 ms
    started = time.monotonic()
    catalog = SpotifyCatalog(settings_for(api, timeout=0.3))
    assert len(catalog.artists(IDS[:3])) == 3
    assert len(catalog.top_tracks({"id": IDS[0], "name": "-"})) == 10
    assert time.monotonic() - started < 4
    assert catalog.stats["retries"] == 3 and api.calls["token"] == 2 and api.calls["several-artists"] == 2
    assert api.calls["top-tracks"] == 2
    api.switches.trickle["several-artists"] = 5  # still trickling: a clear error, within the retries' time
    started = time.monotonic()
    with pytest.raises(SpotifyError, match="several-artists: ReadTimeout, still after 1 retries"):
        SpotifyCatalog(settings_for(api, timeout=0.3, max_retries=1)).artists(IDS[:3])
    assert time.monotonic() - started < 3


def test_an_oversized_answer_stops_with_a_clear_error_unread(api):
    api.switches.oversized["several-artists"] = 1  # 64 MiB announced and sent
    catalog = SpotifyCatalog(settings_for(api, max_response_bytes=1 << 20))
    started = time.monotonic()
    with pytest.raises(
        SpotifyError,
        match=r"several-artists: .*a body of 67108864 bytes, over the cap of 1048576 "
        r"\(spotify.max_response_bytes\)",
    ):
        catalog.artists(IDS[:3])
    assert time.monotonic() - started < 3 and catalog.stats["retries"] == 0
    assert len(catalog.artists(IDS[:3])) == 3  # the session is still usable


@pytest.mark.clock
def test_the_token_endpoint_failing_for_a_while_is_retried(api):
    sleeps = []
    api.switches.answers["token"] = [503, 503, 429]
    catalog = SpotifyCatalog(settings_for(api), sleep=sleeps.append)
    assert len(catalog.artists(IDS[:3])) == 3
    assert api.calls["token"] == 4 and catalog.stats["retries"] == 2 and catalog.stats["rate_limited"] == 1
    assert sleeps == [0.01, 0.02, 1.0]  # two backoffs, then the 429's Retry-After


@pytest.mark.parametrize("status", [400, 401])
def test_refused_credentials_stop_at_once(api, status):
    api.switches.answers["token"] = [status]
    catalog = SpotifyCatalog(settings_for(api))
    with pytest.raises(SpotifyError, match="refused the app's credentials.*invalid_client.*SPOTIPY_CLIENT_ID"):
        catalog.artists(IDS[:3])
    assert api.calls["token"] == 1 and catalog.stats["retries"] == 0


def test_a_slow_token_endpoint_is_bounded(api):
    api.switches.slow["token"] = 1.0
    started = time.monotonic()
    with pytest.raises(SpotifyError, match="several-artists: ReadTimeout at the token endpoint, still after 1 retries"):
        snapshot(api, ids=IDS[:2], timeout=0.2, max_retries=1)
    assert time.monotonic() - started < 5 and api.calls["token"] == 2


def test_a_name_resolves_only_to_a_search_hit_close_to_it(api):
    catalog = SpotifyCatalog(settings_for(api))
    seven = next(a["id"] for a in CATALOG.artists.values() if a["name"] == "Fake Artist 7")
    # Like the real one, the fake's search answers a name nobody has with loosely matching artists.
    loose = catalog.sp.search(q="Fake Band 7", type="artist", market="KR", limit=10)["artists"]["items"]
    assert loose and loose[0]["name"] == "Fake Artist 7"
    progress = Recorded()
    ids, missing = resolve_names(catalog, ["Fake Artist 7", "fake artsit 7", "Fake Band 7", "Nobody At All"], progress)
    assert ids == [seven, seven] and missing == ["Fake Band 7", "Nobody At All"]
    assert set(sent(api, "search", "market")) == {"KR"}
    assert progress.loops == {"names": [4, 4, True]}


def test_duplicate_feature_rows_keep_the_first(api):
    api.switches.duplicated.update({"audio-features", "provider"})  # each row twice, the copy spoiled
    catalog, snap = snapshot(api, ids=IDS[:10])
    assert len(snap.audio_features) == 100 and min(row[1] for row in snap.audio_features) >= 0
    api.switches.closed.add("audio-features")
    catalog, snap = snapshot(api, ids=IDS[:10])
    assert len(snap.audio_features) == 100 and {row[-1] for row in snap.audio_features} == {"provider"}
    assert min(row[1] for row in snap.audio_features) >= 0 and catalog.stats["tracks_without_features"] == 0


def test_ids_that_are_not_spotify_ids_are_skipped_counted_and_reported_once(api, caplog):
    bad = ["not-an-id", f"spotify:artist:{IDS[3]}", IDS[4] + "\n", IDS[5][:21] + "!"]
    for closed in (False, True):
        if closed:
            api.switches.closed.add("several-artists")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="jobs.sources.spotify"):
            catalog, snap = snapshot(api, ids=IDS[:3] + bad)
        assert len(snap.artists) == 3 and catalog.stats["invalid_ids"] == 4
        warned = [r.getMessage() for r in caplog.records if "not Spotify ids" in r.getMessage()]
        assert len(warned) == 1 and "'not-an-id'" in warned[0] and warned[0].startswith("4 artist ids")


def test_a_provider_404_is_reported_once_as_closed(api, caplog):
    api.switches.closed.add("audio-features")
    with caplog.at_level(logging.WARNING, logger="jobs.sources.spotify"):
        catalog, snap = snapshot(api, ids=IDS[:10], features_provider_url=f"{api.base}/no-such-provider/")
    closed = [r.getMessage() for r in caplog.records if "'provider' is closed" in r.getMessage()]
    assert len(closed) == 1 and "HTTP 404" in closed[0] and "features_provider_url" in closed[0]
    assert snap.audio_features == [] and catalog.stats["tracks_without_features"] == 100
    assert catalog.stats["requests"] == 1 + 10 + 1 + 1  # the provider asked once, not per batch


def spotify_argv(api, lake_dir, *extra):
    return [
        "--source",
        "spotify",
        "--lake",
        lake_dir,
        "--dt",
        "2026-11-20",
        "--set",
        f"spotify.api_url={api.api_url}",
        "--set",
        f"spotify.token_url={api.token_url}",
        "--set",
        f"spotify.features_provider_url={api.provider_url}",
        "--set",
        "spotify.backoff=0.01",
        *extra,
    ]


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


@pytest.mark.clock
def test_requests_from_the_mart_are_resolved_by_search(spark, api, tmp_path, monkeypatch):
    from jobs.publish.mart import Mart
    from jobs.publish.settings import PublishSettings
    from mart import requests, serving

    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "id")
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "secret")
    url = f"jdbc:sqlite:{tmp_path / 'mart.db'}"
    Mart(spark, PublishSettings.from_config({"mart": {"url": url}}, {})).close()  # creates the tables
    conn = serving.connect(url)
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)  # asked two and one days ago
    first, last = (requests.stamp(now - datetime.timedelta(days=days)) for days in (2, 1))
    for name in ("Fake Artist 3", "Unknown Band"):
        serving.fetch_all(
            conn,
            "INSERT INTO artist_requests (name_key, name, first_requested_at, last_requested_at, "
            "times) VALUES (?, ?, ?, ?, 1)",
            (name.lower(), name, first, last),
        )
    conn.close()
    lake_dir = str(tmp_path / "lake")
    assert ingest.main(spotify_argv(api, lake_dir, "--requests", "--set", f"mart.url={url}")) == 0
    lake = Lake(spark, lake_dir)
    assert {r.name for r in lake.read("artists", "2026-11-20").collect()} == {"Fake Artist 3"}
    assert [(r.name, r.origin) for r in lake.read("unresolved_names", "2026-11-20").collect()] == [
        ("Unknown Band", "request")
    ]


def test_a_run_killed_midway_leaves_the_dt_as_it_was_and_a_rerun_gives_one_copy(spark, tmp_path, monkeypatch):
    """Only the killed run needs a process of its own; the baseline and the re-run use the session's Spark."""
    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "id")
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "secret")
    lake_dir = str(tmp_path / "lake")
    with FakeSpotify(CATALOG) as api:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        job_args = spotify_argv(api, lake_dir, "--seeds", ",".join(IDS))
        argv = [
            sys.executable,
            "jobs/ingest.py",
            *job_args,
            "--set",
            "spark.master=local[1]",
            "--set",
            'spark.conf."spark.driver.memory"=1g',
            *set_args(),
        ]
        assert ingest.main(job_args) == 0
        lake = Lake(spark, lake_dir)
        before = sorted(tuple(r) for r in lake.read("top_tracks", "2026-11-20").collect())

        api.switches.slow["top-tracks"] = 0.05
        process = subprocess.Popen(
            argv, cwd=REPO, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        calls = api.calls["top-tracks"]
        while api.calls["top-tracks"] < calls + 30:
            assert process.poll() is None
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        assert sorted(tuple(r) for r in lake.read("top_tracks", "2026-11-20").collect()) == before

        api.switches.slow.clear()
        assert ingest.main(job_args) == 0
    after = sorted(tuple(r) for r in lake.read("top_tracks", "2026-11-20").collect())
    assert after == before and len(after) == 1200
    assert lake.read("artists", "2026-11-20").count() == 120


def test_credentials_can_come_from_aws_secrets_manager(api, moto_aws):
    import boto3

    boto3.client("secretsmanager").create_secret(
        Name="spotify/app", SecretString='{"client_id": "from-secret", "client_secret": "s3cret"}'
    )
    config = {"spotify": {"credentials_secret": "spotify/app", "api_url": api.api_url, "token_url": api.token_url}}
    settings = SpotifySettings.from_config(config, env={})
    assert (settings.client_id, settings.client_secret) == ("from-secret", "s3cret")
    assert len(SpotifyCatalog(settings).artists(IDS[:3])) == 3
