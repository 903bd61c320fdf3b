"""The chatbot's requests cannot stop the nightly ingest: capped, ranked, retried late, expired, marked
after the write; Spotify's quota running out during them keeps the seeds (MariaDB and SQLite marts)."""

from __future__ import annotations

import datetime
import random

import pytest

from jobs import ingest
from jobs.common.lake import Lake
from mart import requests, schema, serving
from shared.names import name_key
from tests.support.fake_spotify import Catalog, FakeSpotify

CATALOG = Catalog.generate(12, tracks_per_artist=3)
IDS = {artist["name"]: artist_id for artist_id, artist in CATALOG.artists.items()}
NOW = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def ago(days: float) -> str:
    return requests.stamp(NOW - datetime.timedelta(days=days))


def make_tables(mart) -> None:
    conn = mart.reader()
    for table in ("artist_requests", "artist_request_users"):
        for statement in schema.create_statements(mart.dialect, table, tag="t"):
            serving.fetch_all(conn, statement)
    conn.close()


def add(conn, name, users=1, times=1, last=1.0, searched=None, not_found=None, resolved=None, spotify_id=None):
    """One request asked ``times`` by ``users`` distinct users, last ``last`` days ago."""
    key = name_key(name)
    serving.fetch_all(
        conn,
        "INSERT INTO artist_requests (name_key, name, spotify_artist_id, first_requested_at, "
        "last_requested_at, times, searched_at, not_found_at, resolved_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key,
            name,
            spotify_id,
            ago(last + 1),
            ago(last),
            times,
            None if searched is None else ago(searched),
            None if not_found is None else ago(not_found),
            None if resolved is None else ago(resolved),
        ),
    )
    for user in range(users):
        serving.fetch_all(
            conn,
            "INSERT INTO artist_request_users (name_key, user_hash, first_requested_at) VALUES (?, ?, ?)",
            (key, f"{user:032x}", ago(last)),
        )


def taken(conn, limit=100, retry_days=7, expiry_days=30) -> list[str]:
    sql, params = requests.take_statement(NOW, limit, retry_days, expiry_days)
    return [str(row[1]) for row in serving.fetch_all(conn, sql, params)]


@pytest.mark.clock  # request ages and expiry, from the test's own clock
def test_distinct_users_rank_first_then_the_latest_ask_then_times(any_mart):
    make_tables(any_mart)
    conn = any_mart.reader()
    add(conn, "one fan asking ten times", users=1, times=10, last=5)
    add(conn, "two fans", users=2, times=2, last=6)
    add(conn, "asked three days ago", users=1, times=1, last=3)
    add(conn, "asked yesterday", users=1, times=1, last=1)
    add(conn, "asked yesterday twice", users=1, times=2, last=1)
    assert taken(conn) == [
        "two fans",
        "asked yesterday twice",
        "asked yesterday",
        "asked three days ago",
        "one fan asking ten times",
    ]
    assert taken(conn, limit=2) == ["two fans", "asked yesterday twice"]
    conn.close()


@pytest.mark.clock  # request ages and expiry, from the test's own clock
def test_not_found_and_resolved_requests_wait_for_a_new_ask_and_old_ones_expire(any_mart):
    make_tables(any_mart)
    conn = any_mart.reader()
    add(conn, "never looked up", last=2)
    add(conn, "not found lately", last=2, searched=1, not_found=1)  # asked before the search
    add(conn, "not found, asked again soon", last=1, searched=2, not_found=2)  # within the retry wait
    add(conn, "not found long ago, asked again", last=1, searched=9, not_found=9)
    add(conn, "not found long ago, never again", last=10, searched=9, not_found=9)
    add(conn, "resolved", last=3, searched=2, resolved=2)
    add(conn, "resolved long ago, asked again", last=1, searched=9, resolved=9)
    add(conn, "nobody asked for a month", users=50, last=31)
    assert sorted(taken(conn)) == [
        "never looked up",
        "not found long ago, asked again",
        "resolved long ago, asked again",
    ]
    sql, params = requests.count_statement(NOW, 7, 30)
    assert serving.fetch_all(conn, sql, params)[0][0] == 3
    for sql, params in requests.expire_statements(NOW, 30):
        serving.fetch_all(conn, sql, params)
    names = {row[0] for row in serving.fetch_all(conn, "SELECT name FROM artist_requests")}
    assert len(names) == 7 and "nobody asked for a month" not in names
    assert (
        serving.fetch_all(
            conn,
            "SELECT COUNT(*) FROM artist_request_users WHERE name_key = ?",
            (name_key("nobody asked for a month"),),
        )[0][0]
        == 0
    )
    conn.close()


def argv(api, mart, lake_dir, dt, *extra):
    return [
        "--source",
        "spotify",
        "--lake",
        lake_dir,
        "--dt",
        dt,
        "--requests",
        *extra,
        "--set",
        f"mart.url={mart.url}",
        "--set",
        "mart.password_env=MART_TEST_PASSWORD",
        *(["--set", f"mart.user={mart.user}"] if mart.user else []),
        "--set",
        f"spotify.api_url={api.api_url}",
        "--set",
        f"spotify.token_url={api.token_url}",
        "--set",
        f"spotify.features_provider_url={api.provider_url}",
        "--set",
        "spotify.backoff=0.01",
    ]


def searched(api) -> list[str]:
    return [query.get("q") for endpoint, query in api.queries if endpoint == "search"]


def request_states(mart) -> dict[str, tuple]:
    conn = mart.reader()
    rows = serving.fetch_all(conn, "SELECT name, searched_at, not_found_at, resolved_at FROM artist_requests")
    conn.close()
    return {str(name): tuple(v is not None for v in rest) for name, *rest in rows}


@pytest.mark.clock  # request ages and expiry, from the test's own clock
def test_a_flood_of_junk_requests_cannot_stop_the_ingest(spark, any_mart, tmp_path, monkeypatch, capsys):
    for name, value in {"SPOTIPY_CLIENT_ID": "id", "SPOTIPY_CLIENT_SECRET": "secret", **any_mart.env()}.items():
        monkeypatch.setenv(name, value)
    make_tables(any_mart)
    rng = random.Random(12)
    junk = ["xq" + "".join(rng.choice("bcdfghjklmnpvwz") for _ in range(10)) for _ in range(300)]
    conn = any_mart.reader()
    for index, name in enumerate(junk):
        add(conn, name, last=rng.random() * 5, times=1 + index % 3)
    add(conn, "fake artist 3", users=4, last=2)  # what real fans ask for ranks first
    add(conn, "Fake Artist 4", users=3, last=3)
    add(conn, "stale junk", users=9, last=40)  # nobody asked for 40 days: expires, never searched
    conn.close()
    seeds = f"{IDS['Fake Artist 0']},Fake Artist 1"
    lake_dir = str(tmp_path / "lake")
    with FakeSpotify(CATALOG) as api:
        # The quota runs out during the requests: 45 calls, then "come back in two hours".
        api.switches.rate, api.switches.window, api.switches.retry_after = 45, 3600, 7200
        assert ingest.main(argv(api, any_mart, lake_dir, "2026-11-20", "--seeds", seeds, "--max-requests", "50")) == 0
        err = capsys.readouterr().err
        first = searched(api)
        assert api.calls["429"] >= 1 and "left for the next run" in err and "quota" in err
        lake = Lake(spark, lake_dir)
        assert {r.name for r in lake.read("artists", "2026-11-20").collect()} == {
            "Fake Artist 0",
            "Fake Artist 1",
            "Fake Artist 3",
            "Fake Artist 4",
        }
        assert lake.read("top_tracks", "2026-11-20").count() == 12

        states = request_states(any_mart)
        assert "stale junk" not in states and "stale junk" not in first
        assert states["fake artist 3"] == states["Fake Artist 4"] == (True, False, True)  # resolved
        not_found = {name for name, state in states.items() if state == (True, True, False)}
        # The search that met the spent quota (the last one) found out nothing: that name is left unmarked.
        assert not_found == set(first[:-1]) - {"Fake Artist 1", "fake artist 3", "Fake Artist 4"}
        assert states[first[-1]] == (False, False, False)
        assert 10 < len(not_found) < 48  # stopped part way through the 50 taken
        assert all(
            state == (False, False, False)
            for name, state in states.items()
            if name not in not_found | {"fake artist 3", "Fake Artist 4"}
        )

        # The next night: the quota is back; what was not found or resolved is not searched again.
        api.switches.rate = None
        api.queries.clear()
        assert (
            ingest.main(
                argv(api, any_mart, lake_dir, "2026-11-21", "--seeds", seeds, "--set", "ingest.max_requests=50")
            )
            == 0
        )
        second = searched(api)[1:]  # the seed's name first
        assert len(second) == 50 and not set(second) & (not_found | {"fake artist 3", "Fake Artist 4"})
        assert "left for the next run" not in capsys.readouterr().err
        # Requests alone, all junk: nothing to write (exit 2), but the names are marked and not searched again.
        api.queries.clear()
        assert ingest.main(argv(api, any_mart, lake_dir, "2026-11-22", "--max-requests", "10")) == 2
        third = searched(api)
        assert len(third) == 10 and not set(third) & (set(second) | not_found)
    assert sum(1 for state in request_states(any_mart).values() if state == (True, True, False)) == len(not_found) + 60


def test_quota_spent_on_the_seeds_still_stops_the_run_and_marks_nothing(spark, sqlite_mart, tmp_path, monkeypatch):
    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "id")
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "secret")
    make_tables(sqlite_mart)
    conn = sqlite_mart.reader()
    add(conn, "Fake Artist 5", users=2)
    conn.close()
    lake_dir = str(tmp_path / "lake")
    with FakeSpotify(CATALOG) as api:
        api.switches.rate, api.switches.window, api.switches.retry_after = 2, 3600, 7200
        assert (
            ingest.main(argv(api, sqlite_mart, lake_dir, "2026-11-20", "--seeds", ",".join(list(IDS.values())[:6])))
            == 3
        )
        assert api.calls["search"] == 0
    assert not Lake(spark, lake_dir).exists("artists")
    assert request_states(sqlite_mart) == {"Fake Artist 5": (False, False, False)}


@pytest.mark.parametrize("value", ["-1", "many"])
def test_bad_request_settings_are_refused(value, spark, sqlite_mart, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPOTIPY_CLIENT_ID", "id")
    monkeypatch.setenv("SPOTIPY_CLIENT_SECRET", "secret")
    assert (
        ingest.main(
            [
                "--source",
                "spotify",
                "--lake",
                str(tmp_path / "lake"),
                "--requests",
                "--seeds",
                "x",
                "--set",
                f"mart.url={sqlite_mart.url}",
                "--set",
                f"ingest.max_requests={value}",
            ]
        )
        == 2
    )
    assert "max_requests" in capsys.readouterr().err
