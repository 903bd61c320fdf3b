"""Marts of schema versions 1, 2 and 3 brought to version 4 in place: every row kept, the suggestion keys
filled, related artists ``sound``, the live and the previous set alike; by ``python -m mart --migrate`` and by
the publish job; a migration that stopped half way is finished by the next one; a version 3 mart still answers
the chatbot before it is migrated."""

from __future__ import annotations

import pytest

from chatbot_lambda.app import SkillApp
from chatbot_lambda.settings import Settings
from jobs.publish.mart import Mart
from jobs.publish.settings import PublishSettings
from mart import __main__ as mart_cli
from mart import migrate, schema, serving
from shared.names import legacy_key
from tests.support.skill_calls import REQUEST_KEY, SKILL_SECRET, ask, cards, headers, quick_replies, texts

# The tables of versions 1 to 3 that a later version changes, as those versions created them.
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
        "related_artists": "CREATE TABLE {t} (artist_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, "
        "`rank` SMALLINT NOT NULL, related_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin "
        "NOT NULL, distance DOUBLE NOT NULL, PRIMARY KEY (artist_id, `rank`)) "
        "DEFAULT CHARSET=utf8mb4",
    },
    "sqlite": {
        "artists": "CREATE TABLE {t} (artist_id TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, name_key TEXT NOT NULL, "
        "image_url TEXT, spotify_url TEXT, genres TEXT, popularity INTEGER)",
        "artist_aliases": "CREATE TABLE {t} (alias_key TEXT NOT NULL PRIMARY KEY, artist_id TEXT NOT NULL)",
        "artist_requests": "CREATE TABLE {t} (name_key TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, "
        "spotify_artist_id TEXT, first_requested_at TEXT NOT NULL, last_requested_at TEXT NOT NULL, "
        "times INTEGER NOT NULL DEFAULT 1)",
        "related_artists": "CREATE TABLE {t} (artist_id TEXT NOT NULL, `rank` INTEGER NOT NULL, "
        "related_id TEXT NOT NULL, distance REAL NOT NULL, PRIMARY KEY (artist_id, `rank`))",
    },
}
# artist_requests before version 3 added added_by (columns of version 2; the same in both dialects but types).
V2_REQUESTS = {
    "mysql": "ALTER TABLE artist_requests ADD COLUMN spotify_name VARCHAR(512), ADD COLUMN searched_at DATETIME(3), "
    "ADD COLUMN not_found_at DATETIME(3), ADD COLUMN resolved_at DATETIME(3)",
    "sqlite": "ALTER TABLE artist_requests ADD COLUMN spotify_name TEXT; ALTER TABLE artist_requests ADD COLUMN "
    "searched_at TEXT; ALTER TABLE artist_requests ADD COLUMN not_found_at TEXT; ALTER TABLE artist_requests "
    "ADD COLUMN resolved_at TEXT",
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
    serving.fetch_all(conn, V1[mart.dialect]["related_artists"].format(t="related_artists"))
    for table in ("top_tracks", "publish_log"):
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


def _execute(conn, statements: str) -> None:
    for statement in statements.split(";"):
        serving.fetch_all(conn, statement)


def make_old_mart(mart, version: int) -> dict[str, list[tuple]]:
    """A mart of schema version 2 or 3 as that version left it (live and previous sets, requests with a
    user, a confirmation on version 3, a publish_log row); returns every row of it."""
    from tests.support.chatbot_mart import alias_row, artist_row

    conn = mart.reader()
    for table in schema.SERVING_TABLES:
        for number, name in enumerate((table, f"{table}{schema.PREVIOUS}")):
            if table == "related_artists":
                serving.fetch_all(conn, V1[mart.dialect][table].format(t=name))
            else:
                for statement in schema.create_statements(mart.dialect, table, name, tag=f"old{number}"):
                    serving.fetch_all(conn, statement)
    serving.fetch_all(conn, V1[mart.dialect]["artist_requests"].format(t="artist_requests"))
    _execute(conn, V2_REQUESTS[mart.dialect])
    kept = ["artist_request_users", "publish_log"]
    if version >= 3:
        kind = "TEXT" if mart.dialect == "sqlite" else "VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin"
        serving.fetch_all(conn, f"ALTER TABLE artist_requests ADD COLUMN added_by {kind} NOT NULL DEFAULT 'unsigned'")
        kept.append("alias_confirmations")
    for table in kept:
        for statement in schema.create_statements(mart.dialect, table):
            serving.fetch_all(conn, statement)
    request = (
        "somename",
        "Some Name",
        None,
        "2026-11-01 10:00:00.000",
        "2026-11-02 10:00:00.000",
        3,
        None,
        "2026-11-02 11:00:00.000",
        "2026-11-02 11:00:00.000",
        None,
    )
    rows = {
        "artists": [artist_row(a, n, None, None, None, p) for a, n, p in NAMES],
        "artist_aliases": [alias_row(alias, a) for alias, a in ALIASES],
        "top_tracks": [(a, 1, f"{a}-t", f"{n} hit", "album", None) for a, n, _ in NAMES],
        "related_artists": [(a, 1, NAMES[(i + 1) % len(NAMES)][0], 0.5) for i, (a, _, _) in enumerate(NAMES)],
        "artist_requests": [request + (("a" * 32,) if version >= 3 else ())],
        "artist_request_users": [("somename", "a" * 32, "2026-11-01 10:00:00.000")],
        "publish_log": [("run-1", "publish", "2026-11-01", "2026-11-01 10:00:00.000", 4, 2, 4, 4, 0, "{}")],
    }
    if version >= 3:
        rows["alias_confirmations"] = [("방탄", "bts", "b" * 32, "방탄", "2026-11-03 10:00:00.000")]
    mark = "?" if mart.dialect == "sqlite" else "%s"
    cursor = conn.cursor()
    for table, values in rows.items():
        for name in (table, f"{table}{schema.PREVIOUS}") if table in schema.SERVING_TABLES else (table,):
            cursor.executemany(f"INSERT INTO {name} VALUES ({', '.join([mark] * len(values[0]))})", values)
    cursor.close()
    conn.close()
    return everything(mart)


# The columns each table had before version 4 (those are compared before and after).
OLD_WIDTHS = {"related_artists": 4}


def reasons(mart) -> dict[str, set[str]]:
    """The reasons of the live and the previous related rows."""
    conn = mart.reader()
    try:
        return {
            name: {str(r) for (r,) in serving.fetch_all(conn, f"SELECT reason FROM {name}")}
            for name in ("related_artists", f"related_artists{schema.PREVIOUS}")
            if name in migrate.tables(conn)
        }
    finally:
        conn.close()


def version_of(mart) -> int:
    conn = mart.reader()
    try:
        return migrate.detect_version(conn)
    finally:
        conn.close()


def test_migrate_keeps_every_row_and_fills_the_suggestion_keys(any_mart, monkeypatch, capsys):
    before = make_v1_mart(any_mart)
    assert version_of(any_mart) == 1
    monkeypatch.setenv("MART_PASSWORD", any_mart.password)
    assert mart_cli.main(["--url", any_mart.url, "--user", any_mart.user, "--migrate"]) == 0
    assert "schema version 1 -> 4" in capsys.readouterr().out
    widths = {"artists": 7, "artist_aliases": 2, "artist_requests": 6, **OLD_WIDTHS}
    after = everything(any_mart, widths)
    assert after.pop("artist_request_users") == [] and after.pop("alias_confirmations") == []
    assert after.pop("chat_listens") == []
    assert after == before  # every row, every value kept
    assert reasons(any_mart) == {"related_artists": {"sound"}}  # chosen by sound, as all were then
    conn = any_mart.reader()
    try:
        assert migrate.detect_version(conn) == 4
        assert {added_by for (added_by,) in serving.fetch_all(conn, "SELECT added_by FROM artist_requests")} == {
            "unsigned"
        }  # older rows count against no user's quota
        for table in ("artists", "artists__previous"):
            keys = serving.fetch_all(conn, f"SELECT name_key, rev_key, initials FROM {table} ORDER BY name_key")
            assert ("방탄소년단", "단년소탄방", "\u1107\u1110\u1109\u1102\u1103") in keys
            assert all(rev == key[::-1] for key, rev, _ in keys)
        aliases = serving.fetch_all(
            conn, "SELECT alias_key, rev_key, initials FROM artist_aliases__previous ORDER BY alias_key"
        )
        assert aliases == [("bangtan", "natgnab", None), ("블랙핑크", "크핑랙블", "\u1107\u1105\u1111\u110f")]
    finally:
        conn.close()
    assert mart_cli.main(["--url", any_mart.url, "--user", any_mart.user, "--migrate"]) == 0
    assert "nothing to do" in capsys.readouterr().out

    # The chatbot answers from the migrated mart: v1 keys still match, 초성 and typos work, requests record.
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
    try:
        assert headers(ask(skill, "Beyoncé"))[0] == "Beyoncé"  # the version 1 key "beyoncé"
        assert headers(ask(skill, "ㅂㅌㅅㄴㄷ"))[0] == "방탄소년단"
        assert quick_replies(ask(skill, "블랙핑그"))[0] == "BLACKPINK"
        ask(skill, "Unknown Band")
    finally:
        skill.repository.close()
    conn = any_mart.reader()
    assert sorted(name for (name,) in serving.fetch_all(conn, "SELECT name FROM artist_requests")) == [
        "Some Name",
        "Unknown Band",
        "블랙핑그",
    ]
    conn.close()


@pytest.mark.parametrize("version", [2, 3])
def test_a_version_2_or_3_mart_reaches_version_4_keeping_every_row(any_mart, monkeypatch, capsys, version):
    before = make_old_mart(any_mart, version)
    assert version_of(any_mart) == version
    monkeypatch.setenv("MART_PASSWORD", any_mart.password)
    assert mart_cli.main(["--url", any_mart.url, "--user", any_mart.user, "--migrate"]) == 0
    out = capsys.readouterr().out
    assert f"schema version {version} -> 4" in out
    assert "related_artists: added reason" in out and "related_artists__previous: added reason" in out
    after = everything(any_mart, {**OLD_WIDTHS, "artist_requests": 10 if version == 2 else 11})
    assert after.pop("chat_listens") == []
    if version == 2:
        assert after.pop("alias_confirmations") == []
    assert after == before
    assert reasons(any_mart) == {"related_artists": {"sound"}, "related_artists__previous": {"sound"}}
    assert version_of(any_mart) == 4
    assert mart_cli.main(["--url", any_mart.url, "--user", any_mart.user, "--migrate"]) == 0
    assert "schema version 4 -> 4: nothing to do" in capsys.readouterr().out


def test_a_migration_that_stopped_half_way_is_finished_by_the_next(any_mart):
    before = make_old_mart(any_mart, 3)
    conn = any_mart.reader()
    try:  # the live related_artists was given its reason, then the migration stopped
        kind = "TEXT" if any_mart.dialect == "sqlite" else "VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin"
        serving.fetch_all(conn, f"ALTER TABLE related_artists ADD COLUMN reason {kind} NOT NULL DEFAULT 'sound'")
        assert migrate.detect_version(conn) == 3
        assert migrate.migrate(conn) == [
            "related_artists__previous: added reason (sound for the rows there)",
            "created chat_listens",
        ]
        assert migrate.detect_version(conn) == 4 and migrate.migrate(conn) == []
    finally:
        conn.close()
    after = everything(any_mart, OLD_WIDTHS)
    assert after.pop("chat_listens") == [] and after == before
    assert reasons(any_mart) == {"related_artists": {"sound"}, "related_artists__previous": {"sound"}}


def test_a_version_3_mart_answers_before_its_migration_and_counts_listens_after_it(any_mart):
    """Without related_artists.reason every related artist is worded as chosen by sound; without
    chat_listens a verified user's answer is the same, the write fails once and is not tried again soon."""
    make_old_mart(any_mart, 3)
    env = {
        "REQUEST_KEY": REQUEST_KEY,
        "MART_URL": any_mart.url,
        "MART_USER": any_mart.user,
        "MART_PASSWORD": any_mart.password,
        "SKILL_SECRET": SKILL_SECRET,
    }
    skill = SkillApp(Settings.from_env(env))
    try:
        for _ in range(2):
            reply = ask(skill, "BLACKPINK", user="fan")
            assert headers(reply) == ["BLACKPINK", "Juice"]
            assert texts(reply)[0].startswith("BLACKPINK의 인기곡이에요. 비슷한 느낌의 아티스트 1명도")
            assert cards(reply)[1]["items"][0]["title"] == "비슷한 느낌의 아티스트"
        assert skill.repository.listens == {"failed": 1, "paused": 1}
    finally:
        skill.repository.close()
    conn = any_mart.reader()
    migrate.migrate(conn)
    conn.close()
    skill = SkillApp(Settings.from_env(env))
    try:
        assert cards(ask(skill, "BLACKPINK", user="fan"))[1]["items"][0]["title"] == "비슷한 느낌의 아티스트"
        assert skill.repository.listens == {"recorded": 1}
    finally:
        skill.repository.close()
    conn = any_mart.reader()
    assert [tuple(row) for row in serving.fetch_all(conn, "SELECT artist_id, asks FROM chat_listens")] == [("bp", 1)]
    conn.close()


@pytest.mark.parametrize("version", [1, 3])
def test_the_publish_job_migrates_an_older_mart_before_anything_else(spark, any_mart, version):
    before = make_v1_mart(any_mart) if version == 1 else make_old_mart(any_mart, version)
    Mart(spark, PublishSettings.from_config(any_mart.config(), any_mart.env())).close()
    widths = {"artists": 7, "artist_aliases": 2, "artist_requests": 6} if version == 1 else {"artist_requests": 11}
    after = everything(any_mart, {**widths, **OLD_WIDTHS})
    assert after.pop("chat_listens") == []
    if version == 1:
        assert after.pop("artist_request_users") == [] and after.pop("alias_confirmations") == []
    assert after == before
    assert version_of(any_mart) == 4
