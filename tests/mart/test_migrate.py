"""A mart of schema version 1 brought to version 2 in place: every row kept, the suggestion keys filled,
the live and the previous set alike; by ``python -m mart --migrate`` and by the publish job."""

from __future__ import annotations

from chatbot_lambda.app import SkillApp
from chatbot_lambda.settings import Settings
from jobs.publish.mart import Mart
from jobs.publish.settings import PublishSettings
from mart import __main__ as mart_cli
from mart import migrate, schema, serving
from shared.names import legacy_key
from tests.support.skill_calls import REQUEST_KEY, ask, headers, quick_replies

# The version 1 tables that version 2 changes, as version 1 created them.
V1 = {
    "mysql": {
        "artists": "CREATE TABLE {t} (artist_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, "
                   "name VARCHAR(512) NOT NULL, name_key VARCHAR(512) COLLATE utf8mb4_bin NOT NULL, "
                   "image_url VARCHAR(1024), spotify_url VARCHAR(1024), genres TEXT, popularity SMALLINT, "
                   "PRIMARY KEY (artist_id), KEY ix_{t}_key (name_key)) DEFAULT CHARSET=utf8mb4",
        "artist_aliases": "CREATE TABLE {t} (alias_key VARCHAR(512) COLLATE utf8mb4_bin NOT NULL, "
                          "artist_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, "
                          "PRIMARY KEY (alias_key)) DEFAULT CHARSET=utf8mb4",
        "artist_requests": "CREATE TABLE {t} (name_key VARCHAR(512) COLLATE utf8mb4_bin NOT NULL, name VARCHAR(512) "
                           "NOT NULL, spotify_artist_id VARCHAR(64), first_requested_at DATETIME(3) NOT NULL, "
                           "last_requested_at DATETIME(3) NOT NULL, times INT NOT NULL DEFAULT 1, "
                           "PRIMARY KEY (name_key)) DEFAULT CHARSET=utf8mb4",
    },
    "sqlite": {
        "artists": "CREATE TABLE {t} (artist_id TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, name_key TEXT NOT NULL, "
                   "image_url TEXT, spotify_url TEXT, genres TEXT, popularity INTEGER)",
        "artist_aliases": "CREATE TABLE {t} (alias_key TEXT NOT NULL PRIMARY KEY, artist_id TEXT NOT NULL)",
        "artist_requests": "CREATE TABLE {t} (name_key TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, "
                           "spotify_artist_id TEXT, first_requested_at TEXT NOT NULL, last_requested_at TEXT NOT NULL, "
                           "times INTEGER NOT NULL DEFAULT 1)",
    },
}
NAMES = [("bts", "방탄소년단", 99), ("bey", "Beyoncé", 90), ("bp", "BLACKPINK", 95), ("ju", "Juice", 10)]
ALIASES = [("블랙핑크", "bp"), ("bangtan", "bts")]


def make_v1_mart(mart) -> dict[str, list[tuple]]:
    """A version 1 mart (live and previous sets, requests, a publish_log row); returns every row of it."""
    conn = mart.reader()
    for table in ("artists", "artist_aliases"):
        for name in (table, f"{table}{schema.PREVIOUS}"):
            serving.fetch_all(conn, V1[mart.dialect][table].format(t=name))
    serving.fetch_all(conn, V1[mart.dialect]["artist_requests"].format(t="artist_requests"))
    for table in ("top_tracks", "related_artists", "publish_log"):
        for statement in schema.create_statements(mart.dialect, table):
            serving.fetch_all(conn, statement)
    rows = {
        "artists": [(a, n, legacy_key(n), None, None, None, p) for a, n, p in NAMES],
        "artist_aliases": [(legacy_key(alias), a) for alias, a in ALIASES],
        "top_tracks": [(a, 1, f"{a}-t", f"{n} hit", "album", None) for a, n, _ in NAMES],
        "related_artists": [(a, 1, NAMES[(i + 1) % len(NAMES)][0], 0.5) for i, (a, _, _) in enumerate(NAMES)],
        "artist_requests": [("somename", "Some Name", None, "2026-11-01 10:00:00.000", "2026-11-02 10:00:00.000", 3)],
        "publish_log": [("run-1", "publish", "2026-11-01", "2026-11-01 10:00:00.000", 4, 2, 4, 4, 0, "{}")],
    }
    mark = "?" if mart.dialect == "sqlite" else "%s"
    cursor = conn.cursor()
    for table, values in rows.items():
        for name in (table, f"{table}{schema.PREVIOUS}") if table in ("artists", "artist_aliases") else (table,):
            cursor.executemany(f"INSERT INTO {name} VALUES ({', '.join([mark] * len(values[0]))})", values)
    cursor.close()
    conn.close()
    return everything(mart)


def everything(mart, columns: dict[str, int] | None = None) -> dict[str, list[tuple]]:
    """Every row of every table, as strings, the first ``columns[table]`` columns (all by default)."""
    conn = mart.reader()
    out = {}
    for table in sorted(migrate.tables(conn)):
        rows = serving.fetch_all(conn, f"SELECT * FROM {table}")
        width = (columns or {}).get(table.split("__")[0])
        out[table] = sorted(tuple(str(v) for v in row[:width]) for row in rows)
    conn.close()
    return out


def test_migrate_keeps_every_row_and_fills_the_suggestion_keys(any_mart, monkeypatch, capsys):
    before = make_v1_mart(any_mart)
    conn = any_mart.reader()
    assert migrate.detect_version(conn) == 1
    conn.close()
    monkeypatch.setenv("MART_PASSWORD", any_mart.password)
    assert mart_cli.main(["--url", any_mart.url, "--user", any_mart.user, "--migrate"]) == 0
    assert "schema version 1 -> 3" in capsys.readouterr().out
    widths = {"artists": 7, "artist_aliases": 2, "artist_requests": 6}
    after = everything(any_mart, widths)
    assert after.pop("artist_request_users") == [] and after.pop("alias_confirmations") == []
    assert after == before                                            # every row, every value kept
    conn = any_mart.reader()
    try:
        assert migrate.detect_version(conn) == 3
        assert {added_by for (added_by,) in serving.fetch_all(conn, "SELECT added_by FROM artist_requests")} == \
            {"unsigned"}                                             # older rows count against no user's quota
        for table in ("artists", "artists__previous"):
            keys = serving.fetch_all(conn, f"SELECT name_key, rev_key, initials FROM {table} ORDER BY name_key")
            assert ("방탄소년단", "단년소탄방", "\u1107\u1110\u1109\u1102\u1103") in keys
            assert all(rev == key[::-1] for key, rev, _ in keys)
        aliases = serving.fetch_all(conn, "SELECT alias_key, rev_key, initials FROM artist_aliases__previous "
                                          "ORDER BY alias_key")
        assert aliases == [("bangtan", "natgnab", None), ("블랙핑크", "크핑랙블", "\u1107\u1105\u1111\u110f")]
    finally:
        conn.close()
    assert mart_cli.main(["--url", any_mart.url, "--user", any_mart.user, "--migrate"]) == 0
    assert "nothing to do" in capsys.readouterr().out

    # The chatbot answers from the migrated mart: v1 keys still match, 초성 and typos work, requests record.
    skill = SkillApp(Settings.from_env({"REQUEST_KEY": REQUEST_KEY, "MART_URL": any_mart.url, "MART_USER": any_mart.user,
                                        "MART_PASSWORD": any_mart.password}))
    try:
        assert headers(ask(skill, "Beyoncé"))[0] == "Beyoncé"          # the version 1 key "beyoncé"
        assert headers(ask(skill, "ㅂㅌㅅㄴㄷ"))[0] == "방탄소년단"
        assert quick_replies(ask(skill, "블랙핑그"))[0] == "BLACKPINK"
        ask(skill, "Unknown Band")
    finally:
        skill.repository.close()
    conn = any_mart.reader()
    assert sorted(name for (name,) in serving.fetch_all(conn, "SELECT name FROM artist_requests")) == [
        "Some Name", "Unknown Band", "블랙핑그"]
    conn.close()


def test_the_publish_job_migrates_a_version_1_mart_before_anything_else(spark, any_mart):
    before = make_v1_mart(any_mart)
    Mart(spark, PublishSettings.from_config(any_mart.config(), any_mart.env())).close()
    after = everything(any_mart, {"artists": 7, "artist_aliases": 2, "artist_requests": 6})
    assert after.pop("artist_request_users") == [] and after.pop("alias_confirmations") == []
    assert after == before
    conn = any_mart.reader()
    assert migrate.detect_version(conn) == 3
    conn.close()
