"""Publishing to a real mart, MariaDB (scripts/mariadb.sh) and SQLite, through the same code: the set
that goes live, rollback, the drop guard and the staging checks.
"""

from __future__ import annotations

from collections import Counter

import pytest
from pyspark.sql import functions as F

from jobs.common.errors import MartError
from jobs.publish.checks import PublishCheckFailed, PublishRefused
from jobs.publish.frames import MartFrames, mart_frames
from mart import serving
from mart.schema import COLUMNS
from tests.support import mart_data
from tests.support.publish import live_state, open_mart, table_rows


def test_first_publish_creates_the_schema_and_serves_lookups(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        report = mart.publish(mart_data.frames(spark, 50, "A"), "2026-11-01", artists_with_vector=50, k=3)
    assert report.counts == {"artists": 50, "artist_aliases": 0, "top_tracks": 150, "related_artists": 150}
    conn = any_mart.reader()
    try:
        cards = serving.find_artist(conn, "  artist 7 ")
        assert mart_data.answer_problems(cards, 7, 50) == []
        assert [card.reason for card in cards] == [None, "sound", "sound", "sound"]  # a lake without reasons
        assert [t.name for t in cards[0].tracks] == ["A song 1 of 7", "A song 2 of 7", "A song 3 of 7"]
        logged = serving.fetch_all(conn, "SELECT action, dt, artists, related_artists FROM publish_log")
        assert [tuple(map(str, row)) for row in logged] == [("publish", "2026-11-01", "50", "150")]
    finally:
        conn.close()


def rows_of(frames: MartFrames) -> dict[str, Counter]:
    """Each table's rows as the job computed them (a multiset of tuples in column order)."""
    return {
        table: Counter(tuple(row) for row in frame.select(*COLUMNS[table]).collect())
        for table, frame in frames.tables().items()
    }


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
        serving.fetch_all(
            conn,
            "INSERT INTO artist_requests (name_key, name, first_requested_at, "
            "last_requested_at, times) VALUES (?, ?, ?, ?, ?)",
            ("newjeans", "NewJeans", "2026-11-01 10:00:00", "2026-11-02 10:00:00", 4),
        )
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

        mart.publish(mart_data.frames(spark, 60, "B"), "2026-11-02")  # within the threshold
        report = mart.publish(mart_data.frames(spark, 10, "A"), "2026-11-03", force=True)
        assert report.forced and mart.counts()["artists"] == 10
        assert [bool(row[-1]) for row in mart.history()] == [True, False, False]


def _broken(spark, frames: MartFrames, **replace) -> MartFrames:
    tables = frames.tables()
    tables.update(replace)
    return MartFrames(**tables)


@pytest.mark.parametrize(
    "problem, related, message",
    [
        ("dangling", [("ar0000000", 1, "nobody", 0.1, "sound")], "related_artists.related_id name no artist"),
        (
            "self, and a reason the chatbot cannot word",
            [("ar0000000", 1, "ar0000000", 0.0, "genre")],
            "related to themselves; 1 rows of related_artists.reason are not one of sound, listeners, both",
        ),
    ],
)
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


def test_each_related_rows_reason_goes_live_and_one_left_empty_is_sound(spark, sqlite_mart):
    """Round three's related_artists says why; a row it left empty (written before the column was added)
    is sound, like every row of a lake without the column (test_first_publish_...; the MySQL writers:
    test_load_data.py)."""
    lake = mart_data.lake_tables(spark, 12, "A")
    why = F.element_at(F.array(F.lit(None).cast("string"), F.lit("listeners"), F.lit("both")), F.col("rank"))
    related = lake["related_artists"].withColumn("reason", why)
    with open_mart(spark, sqlite_mart) as mart:
        mart.publish(mart_frames(lake["artists"], lake["top_tracks"], related, None, 3), "2026-11-02")
    rows = table_rows(sqlite_mart, "related_artists")
    assert len(rows) == 36 and all(reason == ("sound", "listeners", "both")[rank - 1] for _, rank, _, _, reason in rows)
    conn = sqlite_mart.reader()
    try:
        assert [card.reason for card in serving.find_artist(conn, "Artist 3")] == [None, "sound", "listeners", "both"]
    finally:
        conn.close()


def test_every_artist_with_a_vector_needs_k_related_rows(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        good = mart_data.frames(spark, 10, "A")
        short = good.related_artists.where("NOT (artist_id = 'ar0000004' AND rank = 3)")
        with pytest.raises(PublishCheckFailed, match="1 artists do not have exactly 3 related"):
            mart.publish(_broken(spark, good, related_artists=short), "2026-11-01", artists_with_vector=10, k=3)
        with pytest.raises(PublishCheckFailed, match="9 artists have related artists, 10 have a vector"):
            mart.publish(
                _broken(spark, good, related_artists=good.related_artists.where("artist_id != 'ar0000004'")),
                "2026-11-01",
                artists_with_vector=10,
                k=3,
            )
        assert mart.counts()["artists"] == 0


def test_a_snapshot_with_one_artist_vector_publishes_without_related_rows(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        one = mart_data.frames(spark, 1, "A")
        alone = _broken(spark, one, related_artists=one.related_artists.limit(0))
        report = mart.publish(alone, "2026-11-01", artists_with_vector=1, k=3)
        assert report.counts["artists"] == 1 and report.counts["related_artists"] == 0
        assert mart.counts()["artists"] == 1
        two = mart_data.frames(spark, 2, "A")  # one artist said to have a vector cannot have related rows
        with pytest.raises(PublishCheckFailed, match="none should"):
            mart.publish(
                _broken(spark, two, related_artists=two.related_artists.where("rank = 1 AND artist_id = 'ar0000000'")),
                "2026-11-02",
                artists_with_vector=1,
                k=3,
            )
        assert mart.counts()["artists"] == 1


def test_drop_guard_counts_top_tracks_too(spark, sqlite_mart):
    with open_mart(spark, sqlite_mart, max_drop=0.5) as mart:
        mart.publish(mart_data.frames(spark, 100, "A"), "2026-11-01")
        before = live_state(sqlite_mart)
        with pytest.raises(PublishRefused, match=r"top_tracks 100 < 50% of live 300"):
            mart.publish(mart_data.frames(spark, 100, "B", tracks_per_artist=1), "2026-11-02")
        assert live_state(sqlite_mart) == before
        mart.publish(mart_data.frames(spark, 100, "B", tracks_per_artist=2), "2026-11-02")  # 200 of 300: allowed
        assert mart.counts()["top_tracks"] == 200


def test_a_failure_after_the_swap_says_whether_the_new_set_is_live(spark, any_mart):
    with open_mart(spark, any_mart) as mart:
        mart.publish(mart_data.frames(spark, 10, "A"), "2026-11-01")
        before = live_state(any_mart)
        conn = any_mart.reader()
        serving.fetch_all(conn, "DROP TABLE publish_log")  # the log row, written after the swap, fails
        conn.close()
        with pytest.raises(MartError) as failed:
            mart.publish(mart_data.frames(spark, 10, "B"), "2026-11-02")
        if any_mart.dialect == "mysql":  # RENAME TABLE commits on its own: the new set stays live
            assert "writing the publish_log row failed at" in str(failed.value)
            assert "the new set IS live (swap done)" in str(failed.value)
            assert live_state(any_mart) != before
        else:  # SQLite: renames and log row in one transaction, rolled back together
            assert "the swap failed at" in str(failed.value) and "the live set is unchanged" in str(failed.value)
            assert live_state(any_mart) == before


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

        with pytest.raises(MartError) as failed:  # the database's errors keep the database's wording
            with mart._database_step("reading the staging table artists__staging"):
                mart.conn.query("SELECT * FROM artists__staging")
        assert f"failed at {sqlite_mart.url} as user (none)" in str(failed.value)
        assert "no such table: artists__staging" in str(failed.value)
