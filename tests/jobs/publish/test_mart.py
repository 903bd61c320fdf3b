"""Publishing to a real mart: MariaDB (scripts/mariadb.sh) and SQLite, through the same code.

Over 300 lines: kept whole while the publisher it tests is being split (issue 14); split it with the module.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

from jobs.publish.frames import MartFrames
from jobs.common.jdbc import MartConnection, MartTarget
from jobs.common.errors import MartError
from jobs.common.java_errors import is_java_error, is_sql_error
from jobs.publish.mart import Mart, MartBusy, PublishCheckFailed, PublishRefused, PublishSettings, \
    mysql_lock_name
from mart import serving
from mart.schema import ALL_TABLES, COLUMNS
from tests.support import mart_data
from tests.support.mart_locks import holding_publish_lock


def open_mart(spark, mart, **settings) -> Mart:
    return Mart(spark, PublishSettings.from_config(mart.config(**settings), mart.env()))


def table_rows(mart, table: str) -> list[tuple]:
    conn = mart.reader()
    try:
        return serving.fetch_all(conn, f"SELECT * FROM {table} ORDER BY 1, 2")
    finally:
        conn.close()


def live_state(mart) -> dict[str, list[tuple]]:
    return {table: table_rows(mart, table) for table in ("artists", "artist_aliases", "top_tracks", "related_artists")}


def test_first_publish_creates_the_schema_and_serves_lookups(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        report = mart.publish(mart_data.frames(spark, 50, "A"), "2026-11-01", artists_with_vector=50, k=3)
    assert report.counts == {"artists": 50, "artist_aliases": 0, "top_tracks": 150, "related_artists": 150}
    conn = any_mart.reader()
    try:
        cards = serving.find_artist(conn, "  artist 7 ")
        assert mart_data.answer_problems(cards, 7, 50) == []
        assert [t.name for t in cards[0].tracks] == ["A song 1 of 7", "A song 2 of 7", "A song 3 of 7"]
        logged = serving.fetch_all(conn, "SELECT action, dt, artists, related_artists FROM publish_log")
        assert [tuple(map(str, row)) for row in logged] == [("publish", "2026-11-01", "50", "150")]
    finally:
        conn.close()


def rows_of(frames: MartFrames) -> dict[str, Counter]:
    """Each table's rows as the job computed them (a multiset of tuples in column order)."""
    return {table: Counter(tuple(row) for row in frame.select(*COLUMNS[table]).collect())
            for table, frame in frames.tables().items()}


def test_publishing_the_same_dt_twice_gives_the_same_rows(spark, any_mart):
    lake = mart_data.lake_tables(spark, 200, "A")
    with open_mart(spark, any_mart) as mart:
        frames = mart_data.frames(spark, 200, "A")
        mart.publish(frames, "2026-11-01")
        first = live_state(any_mart)
        mart.publish(mart_data.frames(spark, 200, "A"), "2026-11-01")
        second = live_state(any_mart)
        assert second == first
        # Every row the job computed, and nothing else, is live: as many rows as the lake holds.
        assert {table: Counter(rows) for table, rows in second.items()} == rows_of(frames)
        assert len(second["artists"]) == lake["artists"].count() == 200
        assert len(second["related_artists"]) == lake["related_artists"].count() == 600
        assert len(second["top_tracks"]) == lake["artists"].count() * 3 == 600
        assert mart.counts("__previous") == mart.counts()
        assert len(mart.history()) == 2


def test_artist_requests_survive_publishes_and_rollbacks(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        mart.publish(mart_data.frames(spark, 20, "A"), "2026-11-01")
        conn = any_mart.reader()
        serving.fetch_all(conn, "INSERT INTO artist_requests (name_key, name, first_requested_at, "
                                "last_requested_at, times) VALUES (?, ?, ?, ?, ?)",
                          ("newjeans", "NewJeans", "2026-11-01 10:00:00", "2026-11-02 10:00:00", 4))
        mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
        mart.rollback()
        assert serving.fetch_all(conn, "SELECT name, times FROM artist_requests") == [("NewJeans", 4)]
        conn.close()


def test_rollback_restores_the_previous_set_and_a_second_one_undoes_it(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        mart.publish(mart_data.frames(spark, 30, "A"), "2026-11-01")
        state_a = live_state(any_mart)
        mart.publish(mart_data.frames(spark, 30, "B"), "2026-11-02")
        state_b = live_state(any_mart)
        assert state_b != state_a

        report = mart.rollback()
        assert report.dt == "2026-11-01"
        assert live_state(any_mart) == state_a
        mart.rollback()
        assert live_state(any_mart) == state_b
        assert [row[1] for row in mart.history()] == ["rollback", "rollback", "publish", "publish"]


def test_rollback_to_the_empty_first_set_needs_force(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        mart.publish(mart_data.frames(spark, 30, "A"), "2026-11-01")
        with pytest.raises(PublishRefused, match="rollback refused"):
            mart.rollback()
        assert mart.counts()["artists"] == 30
        mart.rollback(force=True)
        assert mart.counts()["artists"] == 0


def test_rollback_without_a_previous_set_is_a_clear_error(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        with pytest.raises(MartError, match="nothing to roll back to"):
            mart.rollback()


def test_drop_guard_refuses_a_much_smaller_set_and_force_overrides(spark, any_mart):
    with open_mart(spark, any_mart, max_drop=0.5) as mart:
        mart.publish(mart_data.frames(spark, 100, "A"), "2026-11-01")
        before = live_state(any_mart)
        with pytest.raises(PublishRefused, match=r"artists 40 < 50% of live 100.*--force"):
            mart.publish(mart_data.frames(spark, 40, "B"), "2026-11-02")
        assert live_state(any_mart) == before
        assert len(mart.history()) == 1

        mart.publish(mart_data.frames(spark, 60, "B"), "2026-11-02")   # within the threshold
        report = mart.publish(mart_data.frames(spark, 10, "A"), "2026-11-03", force=True)
        assert report.forced and mart.counts()["artists"] == 10
        assert [bool(row[-1]) for row in mart.history()] == [True, False, False]


def _broken(spark, frames: MartFrames, **replace) -> MartFrames:
    tables = frames.tables()
    tables.update(replace)
    return MartFrames(**tables)


@pytest.mark.parametrize("problem, related, message", [
    ("dangling", [("ar0000000", 1, "nobody", 0.1)], "related_artists.related_id name no artist"),
    ("self", [("ar0000000", 1, "ar0000000", 0.0)], "related to themselves"),
])
def test_a_staging_set_that_fails_its_checks_never_goes_live(spark, any_mart, problem, related, message):
    with open_mart(spark, any_mart) as mart:
        mart.publish(mart_data.frames(spark, 10, "A"), "2026-11-01")
        before = live_state(any_mart)
        good = mart_data.frames(spark, 10, "B")
        rows = [r for r in good.related_artists.collect() if r.artist_id != "ar0000000" or r.rank != 1] + related
        bad = _broken(spark, good, related_artists=spark.createDataFrame(rows, good.related_artists.schema))
        with pytest.raises(PublishCheckFailed, match=message):
            mart.publish(bad, "2026-11-02")
        assert live_state(any_mart) == before


def test_every_artist_with_a_vector_needs_k_related_rows(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        good = mart_data.frames(spark, 10, "A")
        short = good.related_artists.where("NOT (artist_id = 'ar0000004' AND rank = 3)")
        with pytest.raises(PublishCheckFailed, match="1 artists do not have exactly 3 related"):
            mart.publish(_broken(spark, good, related_artists=short), "2026-11-01", artists_with_vector=10, k=3)
        with pytest.raises(PublishCheckFailed, match="9 artists have related artists, 10 have a vector"):
            mart.publish(_broken(spark, good, related_artists=good.related_artists.where("artist_id != 'ar0000004'")),
                         "2026-11-01", artists_with_vector=10, k=3)
        assert mart.counts()["artists"] == 0


def test_a_snapshot_with_one_artist_vector_publishes_without_related_rows(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        one = mart_data.frames(spark, 1, "A")
        alone = _broken(spark, one, related_artists=one.related_artists.limit(0))
        report = mart.publish(alone, "2026-11-01", artists_with_vector=1, k=3)
        assert report.counts["artists"] == 1 and report.counts["related_artists"] == 0
        assert mart.counts()["artists"] == 1
        two = mart_data.frames(spark, 2, "A")   # one artist said to have a vector cannot have related rows
        with pytest.raises(PublishCheckFailed, match="none should"):
            mart.publish(_broken(spark, two, related_artists=two.related_artists.where(
                "rank = 1 AND artist_id = 'ar0000000'")), "2026-11-02", artists_with_vector=1, k=3)
        assert mart.counts()["artists"] == 1


def test_drop_guard_counts_top_tracks_too(spark, sqlite_mart):
    with open_mart(spark, sqlite_mart, max_drop=0.5) as mart:
        mart.publish(mart_data.frames(spark, 100, "A"), "2026-11-01")
        before = live_state(sqlite_mart)
        with pytest.raises(PublishRefused, match=r"top_tracks 100 < 50% of live 300"):
            mart.publish(mart_data.frames(spark, 100, "B", tracks_per_artist=1), "2026-11-02")
        assert live_state(sqlite_mart) == before
        mart.publish(mart_data.frames(spark, 100, "B", tracks_per_artist=2), "2026-11-02")   # 200 of 300: allowed
        assert mart.counts()["top_tracks"] == 200


def test_a_second_publish_or_rollback_is_refused_while_one_holds_the_lock(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        mart.publish(mart_data.frames(spark, 30, "A"), "2026-11-01")
        mart.publish(mart_data.frames(spark, 30, "B"), "2026-11-02")
        before, history = live_state(any_mart), mart.history()
        holder = "connection" if any_mart.dialect == "mysql" else "pid 4242 on testhost"
        with holding_publish_lock(any_mart):
            with pytest.raises(MartBusy, match=f"another publish or rollback of this mart is running .*{holder}"
                                               f".*wait for it"):
                mart.publish(mart_data.frames(spark, 30, "A"), "2026-11-03")
            with pytest.raises(MartBusy, match="rollback refused: another publish or rollback"):
                mart.rollback()
            assert live_state(any_mart) == before
            assert mart.history() == history
            assert mart.counts("__staging") == {t: -1 for t in before}   # refused before any staging write
        mart.publish(mart_data.frames(spark, 30, "A"), "2026-11-03")
        assert live_state(any_mart) != before
        assert mart.rollback().dt == "2026-11-02"
        assert live_state(any_mart) == before


def test_shown_url_hides_passwords_in_the_url():
    shown = MartTarget(url="jdbc:mysql://batch:s3cr%40t@db.example:3306/mart?user=x&password=hunter2").shown_url
    assert "s3cr" not in shown and "hunter2" not in shown
    assert shown == "jdbc:mysql://batch:***@db.example:3306/mart?user=x&password=***"
    assert MartTarget(url="jdbc:mysql://db:3306/mart").shown_url == "jdbc:mysql://db:3306/mart"
    assert MartTarget(url="jdbc:mysql://batch@db:3306/mart").shown_url == "jdbc:mysql://batch@db:3306/mart"


def _wait_until(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_readers_see_one_whole_set_while_a_large_publish_swaps(spark, any_mart):
    """Chatbot-style lookups during a 100,000-artist publish: never empty, never a mix, never dangling."""
    n = 100_000
    with open_mart(spark, any_mart) as mart:
        mart.publish(mart_data.frames(spark, n, "A"), "2026-11-01")
        seen, problems, stop = {"A": 0, "B": 0}, [], threading.Event()
        observations = [0, 0]

        def poll(reader: int) -> None:
            rng = random.Random(5 + reader)
            try:
                conn = any_mart.reader()
                try:
                    while not stop.is_set() and len(problems) < 5:
                        i = rng.randrange(n)
                        cards = serving.find_artist(conn, f"Artist {i}")
                        found = mart_data.answer_problems(cards, i, n)
                        problems.extend(found)
                        if not found:
                            seen[cards[0].image_url.split("/")[3]] += 1
                        observations[reader] += 1
                finally:
                    conn.close()
            except Exception as exc:   # a dead reader must fail the test, not stop observing quietly
                problems.append(f"reader {reader} failed: {exc!r}")

        readers = [threading.Thread(target=poll, args=(reader,)) for reader in range(2)]
        for reader in readers:
            reader.start()
        try:
            _wait_until(lambda: seen["A"] > 20 or problems)
            mart.publish(mart_data.frames(spark, n, "B"), "2026-11-02")
            _wait_until(lambda: seen["B"] > 20 or problems)
        finally:
            stop.set()
            for reader in readers:
                reader.join(30)
    assert problems == []
    assert seen["A"] > 20 and seen["B"] > 20, seen
    assert min(observations) > 20, observations


def test_bad_settings_fail_fast_with_what_to_fix(spark, mysql_mart, mariadb):
    wrong_password = PublishSettings.from_config(mysql_mart.config(), {"MART_TEST_PASSWORD": "wrong"})
    with pytest.raises(MartError, match=r"Access denied.*MART_TEST_PASSWORD"):
        Mart(spark, wrong_password)
    unknown_host = PublishSettings.from_config({"mart": {"url": "jdbc:mysql://no-such-host.invalid:3306/m"}}, {})
    started = time.perf_counter()
    with pytest.raises(MartError, match="cannot connect to the mart at jdbc:mysql://no-such-host.invalid"):
        Mart(spark, unknown_host)
    assert time.perf_counter() - started < 15
    no_driver = PublishSettings.from_config({"mart": {"url": "jdbc:mariadb://127.0.0.1:3306/m"}}, {})
    with pytest.raises(MartError, match="org.mariadb.jdbc:mariadb-java-client to spark.packages"):
        Mart(spark, no_driver)


def test_the_password_can_come_from_aws_secrets_manager(spark, mysql_mart, moto_aws):
    """Through moto's server on 127.0.0.1: only the endpoint differs from AWS."""
    import boto3

    client = boto3.client("secretsmanager")
    client.create_secret(Name="mart/batch", SecretString=f'{{"username": "x", "password": "{mysql_mart.password}"}}')
    client.create_secret(Name="mart/plain", SecretString="not-the-password")
    with Mart(spark, PublishSettings.from_config(mysql_mart.config(password_secret="mart/batch"), {})) as mart:
        assert mart.counts()["artists"] == 0
    with pytest.raises(MartError, match="Access denied.*AWS secret mart/plain"):
        Mart(spark, PublishSettings.from_config(mysql_mart.config(password_secret="mart/plain"), {}))
    with pytest.raises(MartError, match="cannot read secret 'mart/missing'"):
        PublishSettings.from_config(mysql_mart.config(password_secret="mart/missing"), {})


def test_a_swap_blocked_by_a_long_reader_transaction_fails_cleanly(spark, mysql_mart):
    """RENAME TABLE waits for readers' metadata locks at most mart.lock_wait_seconds."""
    with open_mart(spark, mysql_mart, lock_wait_seconds=1, lock_attempts=2) as mart:
        mart.publish(mart_data.frames(spark, 20, "A"), "2026-11-01")
        before = live_state(mysql_mart)
        reader = mysql_mart.reader()
        reader.autocommit(False)
        serving.fetch_all(reader, "SELECT COUNT(*) FROM artists")   # holds a shared lock until commit
        try:
            with pytest.raises(MartError, match="the swap did not happen, the live set is unchanged"):
                mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
        finally:
            reader.rollback()
            reader.close()
        assert live_state(mysql_mart) == before
        assert mart.counts("__previous")["artists"] == 0   # the empty set the first publish replaced
        mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
        assert live_state(mysql_mart) != before
        mart.rollback()
        assert live_state(mysql_mart) == before


def test_lookups_wait_at_most_the_short_lock_wait_while_the_swap_queues_behind_a_reader(spark, mysql_mart):
    """With the default settings, a swap behind a long reader blocks lookups for at most
    mart.lock_wait_seconds at a time, and succeeds by retrying once the reader has ended."""
    with open_mart(spark, mysql_mart) as mart:
        wait = mart.settings.lock_wait_seconds
        assert wait <= 2, "by default a swap may hold up every lookup for mart.lock_wait_seconds"
        mart.publish(mart_data.frames(spark, 20, "A"), "2026-11-01")
        reader, watcher, lookup = mysql_mart.reader(), mysql_mart.reader(), mysql_mart.reader()
        reader.autocommit(False)
        serving.fetch_all(reader, "SELECT COUNT(*) FROM artists")   # holds a shared metadata lock until it ends
        swap_done, failures, waits = threading.Event(), [], []

        def publish() -> None:
            try:
                mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
            except Exception as exc:   # reported by the assertion below
                failures.append(exc)
            finally:
                swap_done.set()

        def lookups() -> None:
            while not swap_done.is_set():
                started = time.perf_counter()
                try:
                    serving.fetch_all(lookup, "SELECT name FROM artists WHERE artist_id = ?", ("A0",))
                except Exception as exc:   # e.g. the client's read timeout: reported below
                    failures.append(exc)
                    return
                waits.append(time.perf_counter() - started)
                time.sleep(0.05)

        publishing = threading.Thread(target=publish)
        publishing.start()
        try:
            while not swap_done.is_set() and not serving.fetch_all(
                    watcher, "SELECT 1 FROM information_schema.PROCESSLIST WHERE INFO LIKE 'RENAME TABLE%' "
                             "AND STATE LIKE '%metadata lock%' AND DB = DATABASE()"):
                time.sleep(0.05)
            looking_up = threading.Thread(target=lookups)
            looking_up.start()
            time.sleep(2 * wait + 1)   # two of the swap's attempts time out; the reader then ends
        finally:
            reader.rollback()
            publishing.join()
        looking_up.join()
        for conn in (reader, watcher, lookup):
            conn.close()
        assert failures == []
        assert mart.history(1)[0][2] == "2026-11-02"   # the swap got the lock on a later attempt
        assert len(waits) >= 5 and max(waits) < wait + 1, waits


def test_a_first_publish_while_another_holds_the_lock_is_busy_and_creates_no_tables(spark, any_mart):
    """Tables are created under the publish lock: two first publishes never both create them."""
    with holding_publish_lock(any_mart):
        with pytest.raises(MartBusy, match="creating the mart tables refused: another publish or rollback of "
                                           "this mart is running .*Nothing was changed"):
            open_mart(spark, any_mart)
        assert mart_data.tables(any_mart) & set(ALL_TABLES) == set()
    with open_mart(spark, any_mart) as mart:
        assert set(ALL_TABLES) <= mart_data.tables(any_mart)
        mart.publish(mart_data.frames(spark, 10, "A"), "2026-11-01")
    with holding_publish_lock(any_mart):   # nothing missing: opening needs no lock
        with open_mart(spark, any_mart) as mart:
            assert mart.counts()["artists"] == 10


def test_a_failure_after_the_swap_says_whether_the_new_set_is_live(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        mart.publish(mart_data.frames(spark, 10, "A"), "2026-11-01")
        before = live_state(any_mart)
        conn = any_mart.reader()
        serving.fetch_all(conn, "DROP TABLE publish_log")   # the log row, written after the swap, fails
        conn.close()
        with pytest.raises(MartError) as failed:
            mart.publish(mart_data.frames(spark, 10, "B"), "2026-11-02")
        if any_mart.dialect == "mysql":   # RENAME TABLE commits on its own: the new set stays live
            assert "writing the publish_log row failed at" in str(failed.value)
            assert "the new set IS live (swap done)" in str(failed.value)
            assert live_state(any_mart) != before
        else:   # SQLite: renames and log row in one transaction, rolled back together
            assert "the swap failed at" in str(failed.value) and "the live set is unchanged" in str(failed.value)
            assert live_state(any_mart) == before


def test_a_publish_whose_control_connection_is_killed_stops_before_the_swap(spark, mysql_mart, mariadb):
    """The server frees the GET_LOCK of a dropped connection: the publish must not go on without it."""
    with open_mart(spark, mysql_mart) as mart:
        mart.publish(mart_data.frames(spark, 20, "A"), "2026-11-01")
        before = live_state(mysql_mart)
        control = mart.conn.scalar("SELECT CONNECTION_ID()")
        stage = mart._stage

        def stage_then_kill(table, frame):
            stage(table, frame)
            if table == "related_artists":   # the last staging write
                root = mariadb.root()
                try:
                    with root.cursor() as cursor:
                        cursor.execute("KILL CONNECTION %s", (int(control),))
                finally:
                    root.close()

        mart._stage = stage_then_kill
        with pytest.raises(MartError, match=r"publish stopped: lost the publish lock 'mart_publish:mart_t_\w+'.*"
                                            r"control connection failed.*nothing was swapped"):
            mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
    assert live_state(mysql_mart) == before
    _wait_until(lambda: _lock_is_free(mysql_mart))
    with open_mart(spark, mysql_mart) as mart:
        mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
        assert live_state(mysql_mart) != before


def _lock_is_free(mart) -> bool:
    conn = mart.reader()
    try:
        (database,), = serving.fetch_all(conn, "SELECT DATABASE()")
        return serving.fetch_all(conn, "SELECT IS_FREE_LOCK(?)", (mysql_lock_name(database),)) == [(1,)]
    finally:
        conn.close()


def test_a_publish_that_lost_its_lock_before_the_swap_swaps_nothing(spark, mysql_mart):
    with open_mart(spark, mysql_mart) as mart:
        mart.publish(mart_data.frames(spark, 20, "A"), "2026-11-01")
        before, history = live_state(mysql_mart), mart.history()
        check = mart._check
        name = mysql_lock_name(str(mart.conn.scalar("SELECT DATABASE()")))

        def check_then_lose_the_lock(*args):
            check(*args)
            mart._verify_lock("publish")   # still held
            assert mart.conn.scalar("SELECT RELEASE_LOCK(?)", (name,)) == 1   # as a reconnect would lose it

        mart._check = check_then_lose_the_lock
        with pytest.raises(MartError, match=r"lost the publish lock .*no longer holds it.*nothing was swapped"):
            mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
        assert live_state(mysql_mart) == before and mart.history() == history
        del mart._check
        mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
        assert live_state(mysql_mart) != before


def test_a_read_only_connection_on_mysql_is_read_only_on_the_server(spark, mysql_mart):
    with open_mart(spark, mysql_mart) as mart:
        mart.publish(mart_data.frames(spark, 5, "A"), "2026-11-01")
        target = mart.target
    with MartConnection(spark, target, readonly=True) as conn:
        assert conn.scalar("SELECT @@session.tx_read_only") == 1   # not only the driver's flag
        assert conn.scalar("SELECT COUNT(*) FROM artists") == 5
        with pytest.raises(Exception, match="(?i)read.only"):
            conn.execute("INSERT INTO artist_requests (name_key, name, first_requested_at, last_requested_at) "
                         "VALUES (?, ?, ?, ?)", ("newjeans", "NewJeans", "2026-11-01 10:00:00", "2026-11-01 10:00:00"))
        with pytest.raises(Exception, match="(?i)read.only"):
            conn.execute("DELETE FROM publish_log")
        conn._conn.setReadOnly(False)   # past Connector/J's own check: the server itself refuses
        with pytest.raises(Exception, match="Cannot execute statement in a READ ONLY transaction"):
            conn.execute("DELETE FROM publish_log")
    assert table_rows(mysql_mart, "artist_requests") == []
    assert len(table_rows(mysql_mart, "publish_log")) == 1


def test_a_spark_failure_inside_a_step_is_not_blamed_on_the_mart(spark, sqlite_mart):
    """A Python UDF's exception (say S3 refusing a read) is Spark's: no mart URL, no grant advice."""
    from pyspark.sql import functions as F

    @F.udf("string")
    def fetch(value):
        raise PermissionError(f"S3 AccessDenied: Access Denied reading s3://lake/artists/{value}")

    with open_mart(spark, sqlite_mart) as mart:
        with pytest.raises(MartError) as failed:
            with mart._database_step("writing the staging table artists__staging"):
                spark.range(2).select(fetch("id")).collect()
        message = str(failed.value)
        assert message.startswith("writing the staging table artists__staging failed, the live set is unchanged: ")
        assert "PermissionError: S3 AccessDenied" in message and "(a Spark error, not the database's)" in message
        assert sqlite_mart.url not in message and "as user" not in message and "grant" not in message
        assert "\n" not in message

        with pytest.raises(MartError) as failed:   # the database's errors keep the database's wording
            with mart._database_step("reading the staging table artists__staging"):
                mart.conn.query("SELECT * FROM artists__staging")
        assert f"failed at {sqlite_mart.url} as user (none)" in str(failed.value)
        assert "no such table: artists__staging" in str(failed.value)


def test_is_sql_error_tells_the_database_s_errors_from_spark_s(spark, sqlite_mart):
    with open_mart(spark, sqlite_mart) as mart:
        with pytest.raises(Exception) as sql:
            mart.conn.query("SELECT * FROM nowhere")
    with pytest.raises(Exception) as spark_error:
        spark.sql("SELECT assert_true(false, 'not the database')").collect()
    assert is_java_error(sql.value) and is_sql_error(sql.value)
    assert is_java_error(spark_error.value) and not is_sql_error(spark_error.value)
    assert not is_sql_error(ValueError("denied"))
