"""``chat_listens``: the known artists the chatbot answered, per signed user and day (mart/listens.py), on a
real MariaDB and on SQLite: only verified users count, per-day caps, retention, and an answer that never
depends on the write."""

from __future__ import annotations

import datetime
import time

import pytest

from chatbot_lambda import repository
from chatbot_lambda.app import SkillApp
from chatbot_lambda.settings import Settings
from mart import listens
from mart.requests import user_hash
from tests.support.answers import rows_of
from tests.support.skill_calls import REQUEST_KEY, SKILL_SECRET, ask, headers, tap


def listens_rows(mart) -> list[tuple]:
    """``(user_hash, artist_id, day, asks)`` of every row, days as YYYY-MM-DD."""
    return [
        (str(u), str(a), str(d), int(n))
        for u, a, d, n in rows_of(
            mart, "SELECT user_hash, artist_id, day, asks FROM chat_listens ORDER BY user_hash, day, artist_id"
        )
    ]


def today(days_ago: int = 0) -> str:
    return (datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=days_ago)).isoformat()


def _chatbot(skill_env, **env) -> SkillApp:
    return SkillApp(Settings.from_env({**skill_env, "SKILL_SECRET": SKILL_SECRET, **env}))


def insert(mart, rows: list[tuple]) -> None:
    conn = mart.reader()
    mark = "?" if mart.dialect == "sqlite" else "%s"
    cursor = conn.cursor()
    cursor.executemany(
        f"INSERT INTO chat_listens (user_hash, artist_id, day, asks) VALUES ({mark}, {mark}, {mark}, {mark})", rows
    )
    cursor.close()
    conn.close()


def test_an_unsigned_endpoint_counts_no_listening(app, served_mart):
    """Without a skill secret anyone may claim any user id: nothing is learned from them."""
    for user in ("fan", "made-up-1", ""):
        assert headers(ask(app, "BLACKPINK", user=user))[0] == "BLACKPINK"
    assert listens_rows(served_mart) == []
    assert app.repository.listens == {"off": 3}


def test_a_verified_users_known_answers_are_counted_per_artist_and_day_under_a_keyed_hash(signed_app, served_mart):
    reply = ask(signed_app, "블랙핑크", user="kakao-fan")
    ask(signed_app, "BLACKPINK 노래 추천해줘", user="kakao-fan")  # the same artist again that day
    tap(signed_app, reply, 0, user="kakao-fan")  # TWICE, through its quick reply
    ask(signed_app, "IU", user="another-fan")
    for typed in ("Some Unknown Band", "안녕하세요", "", "blakpink"):  # no known answer: nothing counted
        ask(signed_app, typed, user="kakao-fan")
    fan, other = user_hash(REQUEST_KEY, "kakao-fan"), user_hash(REQUEST_KEY, "another-fan")
    assert listens_rows(served_mart) == sorted(
        [(fan, "bp", today(), 2), (fan, "tw", today(), 1), (other, "iu", today(), 1)]
    )
    assert all("fan" not in row[0] for row in listens_rows(served_mart))
    assert signed_app.repository.listens == {"recorded": 4}


def test_one_user_counts_at_most_the_days_cap_of_artists_and_asks(skill_env, served_mart):
    app = _chatbot(skill_env, CHAT_LISTENS_PER_USER_PER_DAY="3")
    try:
        for name in ("BLACKPINK", "TWICE", "IU", "NewJeans", "Red Velvet"):
            assert headers(ask(app, name, user="fan"))[0] == name  # answered whatever is counted
        for _ in range(listens.MAX_ASKS + 2):
            ask(app, "IU", user="fan")  # an artist of the day: counted
        ask(app, "NewJeans", user="other")  # another user's cap is their own
        fan = user_hash(REQUEST_KEY, "fan")
        assert [(artist, asks) for user, artist, _, asks in listens_rows(served_mart) if user == fan] == [
            ("bp", 1),
            ("iu", listens.MAX_ASKS),
            ("tw", 1),
        ]
        assert [row[1] for row in listens_rows(served_mart) if row[0] != fan] == ["nj"]
        assert app.repository.listens == {"recorded": 3 + listens.MAX_ASKS - 1 + 1, "capped": 2 + 3}
    finally:
        app.repository.close()
    off = _chatbot(skill_env, CHAT_LISTENS_PER_USER_PER_DAY="0")
    try:
        ask(off, "TWICE", user="third")
        assert off.repository.listens == {"off": 1}
    finally:
        off.repository.close()


@pytest.mark.clock  # the retention, from the test's own clock
def test_rows_past_the_retention_are_deleted_by_the_chatbot_a_few_at_a_time(skill_env, served_mart, monkeypatch):
    monkeypatch.setattr(repository, "PRUNE_ROWS", 2)
    old = [("a" * 32, "bp", today(91), 3), ("b" * 32, "bp", today(200), 1), ("c" * 32, "iu", today(365), 1)]
    kept = [("d" * 32, "tw", today(90), 1), ("e" * 32, "nj", today(1), 2)]
    insert(served_mart, old + kept)
    app = _chatbot(skill_env, CHAT_LISTENS_RETENTION_DAYS="90")
    try:
        ask(app, "TWICE", user="fan")  # the container's first write: the two oldest go
        assert sorted(
            row[:3] for row in listens_rows(served_mart) if row[0] != user_hash(REQUEST_KEY, "fan")
        ) == sorted(row[:3] for row in [old[0]] + kept)
        ask(app, "IU", user="fan")  # within the hour: no delete
        assert len(listens_rows(served_mart)) == 5
        monkeypatch.setattr(repository, "PRUNE_EVERY_SECONDS", 0.0)
        ask(app, "IU", user="fan")
        assert {row[0] for row in listens_rows(served_mart)} == {"d" * 32, "e" * 32, user_hash(REQUEST_KEY, "fan")}
    finally:
        app.repository.close()


def _reply_without_listening(skill_env, typed: str) -> dict:
    unsigned = SkillApp(Settings.from_env(skill_env))
    try:
        return ask(unsigned, typed, user="fan")
    finally:
        unsigned.repository.close()


def test_a_failed_write_never_changes_the_answer_and_pauses_the_writes(skill_env, served_mart, caplog):
    expected = _reply_without_listening(skill_env, "BLACKPINK")
    conn = served_mart.reader()
    conn.cursor().execute("DROP TABLE chat_listens")  # a mart without the table
    conn.close()
    app = _chatbot(skill_env)
    try:
        assert ask(app, "BLACKPINK", user="fan") == expected
        assert ask(app, "BLACKPINK", user="fan") == expected
        assert app.repository.listens == {"failed": 1, "paused": 1}
        assert "chat listen not recorded" in caplog.text
    finally:
        app.repository.close()


def test_a_locked_table_delays_the_answer_by_one_bounded_write_at_most(skill_env, served_mart, mariadb):
    expected = _reply_without_listening(skill_env, "TWICE")
    app = _chatbot(skill_env, DB_TIMEOUT_SECONDS="0.5")
    assert ask(app, "IU", user="fan")  # connected, and past the container's first delete
    if served_mart.dialect == "mysql":
        locker = mariadb.root(served_mart.url.rsplit("/", 1)[1])
        locker.cursor().execute("LOCK TABLES chat_listens WRITE")
    else:
        locker = served_mart.reader()
        locker.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        started = time.perf_counter()
        assert ask(app, "TWICE", user="fan") == expected
        assert time.perf_counter() - started < 2.0
        assert app.repository.listens["failed"] == 1
    finally:
        locker.cursor().execute("UNLOCK TABLES" if served_mart.dialect == "mysql" else "ROLLBACK")
        locker.close()
        app.repository.close()


def test_a_failure_of_any_kind_in_the_write_never_reaches_the_user(signed_app, skill_env, monkeypatch, caplog):
    expected = _reply_without_listening(skill_env, "IU")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the listening code")

    monkeypatch.setattr(listens, "record", broken)
    assert ask(signed_app, "IU", user="fan") == expected
    assert "recording a chat listen of 'iu' failed" in caplog.text


def test_too_little_time_left_skips_the_write(signed_app, skill_env, served_mart):
    from chatbot_lambda.budget import Deadline

    assert signed_app.repository.record_listen("iu", "fan", Deadline(0.1)) == "skipped"
    assert signed_app.repository.record_listen("iu", "fan", Deadline(3.0)) == "recorded"
    assert [row[1:] for row in listens_rows(served_mart)] == [("iu", today(), 1)]
