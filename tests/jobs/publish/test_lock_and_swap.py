"""The publish lock and the swap on a real mart, MariaDB (scripts/mariadb.sh) and SQLite: one
publisher at a time, readers see one whole set, a lost lock or a blocked swap changes nothing.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from chatbot_lambda.repository import MartRepository, MartUnavailable
from chatbot_lambda.settings import Settings
from jobs.common.errors import MartError
from jobs.publish.lock import MartBusy, mysql_lock_name
from jobs.publish.swap import RETRY_PAUSE_SECONDS
from mart import serving
from mart.schema import ALL_TABLES
from mart.url import MartUrl
from shared.names import name_key
from tests.support import mart_data
from tests.support.mart_locks import holding_publish_lock
from tests.support.publish import live_state, open_mart


def test_a_second_publish_or_rollback_is_refused_while_one_holds_the_lock(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        mart.publish(mart_data.frames(spark, 30, "A"), "2026-11-01")
        mart.publish(mart_data.frames(spark, 30, "B"), "2026-11-02")
        before, history = live_state(any_mart), mart.history()
        holder = "connection" if any_mart.dialect == "mysql" else "pid 4242 on testhost"
        with holding_publish_lock(any_mart):
            with pytest.raises(
                MartBusy, match=f"another publish or rollback of this mart is running .*{holder}.*wait for it"
            ):
                mart.publish(mart_data.frames(spark, 30, "A"), "2026-11-03")
            with pytest.raises(MartBusy, match="rollback refused: another publish or rollback"):
                mart.rollback()
            assert live_state(any_mart) == before
            assert mart.history() == history
            assert mart.counts("__staging") == {t: -1 for t in before}  # refused before any staging write
        mart.publish(mart_data.frames(spark, 30, "A"), "2026-11-03")
        assert live_state(any_mart) != before
        assert mart.rollback().dt == "2026-11-02"
        assert live_state(any_mart) == before


def _wait_until(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def _swap_is_waiting(watcher) -> bool:
    """True while the mart's RENAME TABLE (behind ``SET STATEMENT ... FOR`` on MariaDB) waits for a metadata lock."""
    return bool(
        serving.fetch_all(
            watcher,
            "SELECT 1 FROM information_schema.PROCESSLIST WHERE INFO LIKE '%RENAME TABLE%' "
            "AND STATE LIKE '%metadata lock%' AND DB = DATABASE()",
        )
    )


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
            except Exception as exc:  # a dead reader must fail the test, not stop observing quietly
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


def test_lookups_wait_at_most_the_short_lock_wait_while_the_swap_queues_behind_a_reader(spark, mysql_mart):
    """With the default settings, a swap behind a long reader blocks lookups for at most
    mart.lock_wait_seconds at a time, and succeeds by retrying once the reader has ended."""
    with open_mart(spark, mysql_mart) as mart:
        wait = mart.settings.lock_wait_seconds
        assert wait <= 0.5, "by default a swap may hold up every lookup for mart.lock_wait_seconds"
        mart.publish(mart_data.frames(spark, 20, "A"), "2026-11-01")
        reader, watcher, lookup = mysql_mart.reader(), mysql_mart.reader(), mysql_mart.reader()
        reader.autocommit(False)
        serving.fetch_all(reader, "SELECT COUNT(*) FROM artists")  # holds a shared metadata lock until it ends
        swap_done, failures, waits = threading.Event(), [], []

        def publish() -> None:
            try:
                mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
            except Exception as exc:  # reported by the assertion below
                failures.append(exc)
            finally:
                swap_done.set()

        def lookups() -> None:
            while not swap_done.is_set():
                started = time.perf_counter()
                try:
                    serving.fetch_all(lookup, "SELECT name FROM artists WHERE artist_id = ?", ("A0",))
                except Exception as exc:  # e.g. the client's read timeout: reported below
                    failures.append(exc)
                    return
                waits.append(time.perf_counter() - started)
                time.sleep(0.05)

        publishing = threading.Thread(target=publish)
        publishing.start()
        try:
            while not swap_done.is_set() and not _swap_is_waiting(watcher):
                time.sleep(0.05)
            looking_up = threading.Thread(target=lookups)
            looking_up.start()
            time.sleep(2 * (wait + RETRY_PAUSE_SECONDS))  # two of the swap's tries time out; the reader then ends
        finally:
            reader.rollback()
            publishing.join()
        looking_up.join()
        for conn in (reader, watcher, lookup):
            conn.close()
        assert failures == []
        assert mart.history(1)[0][2] == "2026-11-02"  # the swap got the lock on a later attempt
        assert len(waits) >= 5 and max(waits) < wait + 0.5, waits


LOOKUPS, LOOKUP_SPACING = 19, 0.15  # as the attack was tried: 19 lookups spread over the swap's tries


@pytest.mark.serial  # asserts a wall-clock budget (tests/support/parallel.py lists the other ones)
def test_every_lookup_during_a_publish_that_cannot_get_the_lock_is_answered_within_the_chatbots_budget(
    spark, mysql_mart
):
    """19 chatbot lookups (MartRepository, statements stopped by the server after DB_TIMEOUT_SECONDS=1.0)
    while a reader keeps the swap from its lock: each queues behind a try of at most
    mart.lock_wait_seconds and gets its answer, none the apology; the publish then fails, nothing swapped,
    and once the reader has ended the same publish goes through (and rolls back).
    With the earlier 2 s tries, the lookups that queued in the first second of a try were stopped."""
    with open_mart(spark, mysql_mart, lock_attempts=5) as mart:  # the default tries, fewer of them: 3.25 s
        mart.publish(mart_data.frames(spark, 20, "A"), "2026-11-01")
        before, history = live_state(mysql_mart), mart.history()
        chatbot = Settings(
            mart_url=MartUrl.parse(mysql_mart.url),
            mart_user=mysql_mart.user,
            mart_password=mysql_mart.password,
            db_timeout=1.0,
            request_key="a request key for tests only",
        )
        containers = [MartRepository(chatbot) for _ in range(LOOKUPS)]  # one warm Lambda container each
        for container in containers:
            assert container.find_artist([name_key("Artist 1")])[0].artist_id == mart_data.artist_id(1)
        reader, watcher = mysql_mart.reader(), mysql_mart.reader()
        reader.autocommit(False)
        serving.fetch_all(reader, "SELECT COUNT(*) FROM artists")  # a shared metadata lock until it ends
        published, outcomes = {}, {}

        def publish() -> None:
            try:
                mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
            except Exception as exc:  # expected: asserted below
                published["error"] = exc
            finally:
                published["ended"] = time.monotonic()

        def lookup(i: int) -> None:
            started = time.monotonic()
            try:
                cards = containers[i].find_artist([name_key(f"Artist {i}")])
                outcome = cards[0].artist_id if cards else "no answer"
            except MartUnavailable as exc:  # the chatbot's apology
                outcome = f"apology: {exc}"
            outcomes[i] = (started, time.monotonic() - started, outcome)

        publishing = threading.Thread(target=publish)
        publishing.start()
        try:
            _wait_until(lambda: published or _swap_is_waiting(watcher))
            lookups = []
            for i in range(LOOKUPS):
                lookups.append(threading.Thread(target=lookup, args=(i,)))
                lookups[-1].start()
                time.sleep(LOOKUP_SPACING)
            for thread in lookups:
                thread.join(10)
            publishing.join(60)
        finally:
            reader.rollback()
            for conn in (reader, watcher, *containers):
                conn.close()
        apologies = {i: outcome for i, (_, _, outcome) in outcomes.items() if outcome.startswith("apology")}
        assert len(outcomes) == LOOKUPS and apologies == {}, f"{len(apologies)} of {LOOKUPS} apologized: {apologies}"
        assert all(outcome == mart_data.artist_id(i) for i, (_, _, outcome) in outcomes.items()), outcomes
        waits = sorted(round(wait, 3) for _, wait, _ in outcomes.values())
        assert sum(wait >= 0.05 for wait in waits) >= 2, f"the lookups never queued behind the swap: {waits}"
        assert max(waits) < mart.settings.lock_wait_seconds + 0.25, waits
        error = published.get("error")
        assert isinstance(error, MartError) and "the swap did not happen, the live set is unchanged" in str(error)
        assert max(started for started, _, _ in outcomes.values()) < published["ended"], "lookups after the publish"
        assert live_state(mysql_mart) == before and mart.history() == history
        assert mart.counts("__previous")["artists"] == 0  # the empty set the first publish replaced
        mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")  # the reader gone, the swap goes through
        assert live_state(mysql_mart) != before
        mart.rollback()
        assert live_state(mysql_mart) == before


def test_a_first_publish_while_another_holds_the_lock_is_busy_and_creates_no_tables(spark, any_mart):
    """Tables are created under the publish lock: two first publishes never both create them."""
    with holding_publish_lock(any_mart):
        with pytest.raises(
            MartBusy,
            match="creating the mart tables refused: another publish or rollback of "
            "this mart is running .*Nothing was changed",
        ):
            open_mart(spark, any_mart)
        assert mart_data.tables(any_mart) & set(ALL_TABLES) == set()
    with open_mart(spark, any_mart) as mart:
        assert set(ALL_TABLES) <= mart_data.tables(any_mart)
        mart.publish(mart_data.frames(spark, 10, "A"), "2026-11-01")
    with holding_publish_lock(any_mart):  # nothing missing: opening needs no lock
        with open_mart(spark, any_mart) as mart:
            assert mart.counts()["artists"] == 10


def test_a_publish_whose_control_connection_is_killed_stops_before_the_swap(spark, mysql_mart, mariadb):
    """The server frees the GET_LOCK of a dropped connection: the publish must not go on without it."""
    with open_mart(spark, mysql_mart) as mart:
        mart.publish(mart_data.frames(spark, 20, "A"), "2026-11-01")
        before = live_state(mysql_mart)
        control = mart.conn.scalar("SELECT CONNECTION_ID()")
        stage = mart._stage

        def stage_then_kill(table, frame):
            stage(table, frame)
            if table == "related_artists":  # the last staging write
                root = mariadb.root()
                try:
                    with root.cursor() as cursor:
                        cursor.execute("KILL CONNECTION %s", (int(control),))
                finally:
                    root.close()

        mart._stage = stage_then_kill
        with pytest.raises(
            MartError,
            match=r"publish stopped: lost the publish lock 'mart_publish:mart_t_\w+'.*"
            r"control connection failed.*nothing was swapped",
        ):
            mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
    assert live_state(mysql_mart) == before
    _wait_until(lambda: _lock_is_free(mysql_mart))
    with open_mart(spark, mysql_mart) as mart:
        mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
        assert live_state(mysql_mart) != before


def _lock_is_free(mart) -> bool:
    conn = mart.reader()
    try:
        ((database,),) = serving.fetch_all(conn, "SELECT DATABASE()")
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
            mart._verify_lock("publish")  # still held
            assert mart.conn.scalar("SELECT RELEASE_LOCK(?)", (name,)) == 1  # as a reconnect would lose it

        mart._check = check_then_lose_the_lock
        with pytest.raises(MartError, match=r"lost the publish lock .*no longer holds it.*nothing was swapped"):
            mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
        assert live_state(mysql_mart) == before and mart.history() == history
        del mart._check
        mart.publish(mart_data.frames(spark, 20, "B"), "2026-11-02")
        assert live_state(mysql_mart) != before
