"""The MySQL staging writes by LOAD DATA LOCAL INFILE (jobs/publish/load_data.py, load_stream.py) on the
real MariaDB server: the rows it writes equal the JDBC writer's, bit for bit; a skipped or bent row
fails the publish; the connection serves only its own stream; the fallback to JDBC; the indexes.
"""

from __future__ import annotations

import logging
import random
import re
import struct

import pytest
from pyspark.sql import functions as F

from jobs.common.errors import MartError
from jobs.common.jdbc import MartTarget
from jobs.publish.frames import MartFrames
from jobs.publish.load_data import pymysql_tls, staging_loader
from jobs.publish.load_stream import StreamConnection, StreamRefused
from mart.schema import REASONS, create_statements
from mart.url import MartUrl
from tests.support import mart_data
from tests.support.publish import live_state, open_mart

HOSTILE = [
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash",
    "\\N",
    "\\",
    "nul\0byte",
    "🎵 4-byte 🎤",
    "방탄소년단 ㅂㅌㅅㄴㄷ",
    "",
    "  spaces  ",
    "quote ' and \" and `",
    "\\t not a tab",
    "end\\",
]


def hostile_frames(spark, n: int = 12) -> MartFrames:
    """``n`` artists whose top tracks carry every hostile string (and NULLs) and whose related rows
    carry doubles over the whole range."""
    base = mart_data.frames(spark, n, "A")
    rng = random.Random(15)
    tracks = [
        (
            mart_data.artist_id(i),
            rank,
            f"tr{i}_{rank}",
            HOSTILE[(3 * i + rank) % len(HOSTILE)],
            None if rank == 2 else HOSTILE[(i + rank) % len(HOSTILE)],
            None if rank == 3 else "https://i.test/x",
        )
        for i in range(n)
        for rank in (1, 2, 3)
    ]
    doubles = [5e-324, 2.2250738585072014e-308, 0.1, 1 / 3, 1e300, 1.7976931348623157e308, 0.0, 123456789.12345678]
    related = [
        (
            row.artist_id,
            row.rank,
            row.related_id,
            doubles[k] if k < len(doubles) else rng.random() * 10.0 ** rng.randint(-300, 300),
            REASONS[k % 3],
        )
        for k, row in enumerate(base.related_artists.orderBy("artist_id", "rank").collect())
    ]
    return MartFrames(
        artists=base.artists,
        artist_aliases=base.artist_aliases,
        top_tracks=spark.createDataFrame(
            tracks, "artist_id string, rank int, track_id string, name string, album_name string, image_url string"
        ),
        related_artists=spark.createDataFrame(
            related, "artist_id string, rank int, related_id string, distance double, reason string"
        ),
    )


def bits(value: float) -> bytes:
    return struct.pack("<d", value)


def test_hostile_strings_and_double_bits_round_trip_as_the_jdbc_writer_writes_them(spark, mysql_mart, caplog):
    frames = hostile_frames(spark)
    with caplog.at_level(logging.INFO, logger="jobs.publish.mart"):
        with open_mart(spark, mysql_mart, staging_load="jdbc") as mart:
            mart.publish(frames, "2026-11-01")
        by_jdbc = live_state(mysql_mart)
        with open_mart(spark, mysql_mart, staging_load="load_data") as mart:
            mart.publish(frames, "2026-11-02")
        by_load = live_state(mysql_mart)
    assert 'staging writes: Spark\'s JDBC writer (mart.staging_load = "jdbc")' in caplog.text
    assert "staging writes: LOAD DATA LOCAL INFILE" in caplog.text

    assert by_load == by_jdbc
    written = sorted(tuple(row) for row in frames.top_tracks.collect())
    assert sorted(by_load["top_tracks"]) == written
    assert {name for *_, name, _album, _img in by_load["top_tracks"]} == set(HOSTILE)
    related = frames.related_artists.collect()
    sent = {(row.artist_id, row.rank): bits(row.distance) for row in related}
    assert {(a, r): bits(d) for a, r, _, d, _ in by_load["related_artists"]} == sent
    assert {(a, r): why for a, r, _, _, why in by_load["related_artists"]} == {
        (row.artist_id, row.rank): row.reason for row in related
    }  # every reason, through LOAD DATA too
    conn = mysql_mart.reader()
    try:  # the server's own DOUBLE, compared with the exact value bound as a parameter
        with conn.cursor() as cursor:
            for (artist, rank), packed in sent.items():
                cursor.execute(
                    "SELECT COUNT(*) FROM related_artists WHERE artist_id = %s AND `rank` = %s AND distance = %s",
                    (artist, rank, struct.unpack("<d", packed)[0]),
                )
                assert cursor.fetchone()[0] == 1, (artist, rank)
    finally:
        conn.close()


def test_a_duplicate_key_or_a_value_the_server_bends_fails_the_publish_and_keeps_the_live_set(spark, mysql_mart):
    with open_mart(spark, mysql_mart, staging_load="load_data") as mart:
        mart.publish(mart_data.frames(spark, 20, "A"), "2026-11-01")
        before = live_state(mysql_mart)
        good = mart_data.frames(spark, 20, "B")

        doubled = MartFrames(
            good.artists,
            good.artist_aliases,
            good.top_tracks.unionByName(good.top_tracks.limit(1)),
            good.related_artists,
        )
        with pytest.raises(MartError) as failed:
            mart.publish(doubled, "2026-11-02")
        message = str(failed.value)
        assert message.startswith("writing the staging table top_tracks__staging failed at ")
        assert "the live set is unchanged" in message and "duplicate" in message.lower()
        assert "Traceback" not in message and "\n" not in message and mysql_mart.password not in message
        assert live_state(mysql_mart) == before

        bent = MartFrames(
            good.artists.withColumn("popularity", F.lit(99_999)),
            good.artist_aliases,
            good.top_tracks,
            good.related_artists,
        )
        with pytest.raises(MartError) as failed:
            mart.publish(bent, "2026-11-02")
        message = str(failed.value)
        assert message.startswith("writing the staging table artists__staging failed at ")
        assert "warnings" in message and "popularity" in message and "\n" not in message
        assert live_state(mysql_mart) == before


def test_a_mart_user_without_insert_gets_the_grant_advice_and_no_password(spark, mysql_mart, mariadb):
    with open_mart(spark, mysql_mart) as mart:
        mart.publish(mart_data.frames(spark, 10, "A"), "2026-11-01")
    database = mysql_mart.url.rsplit("/", 1)[1]
    with mariadb.extra_user("mart_noins_", database, "SELECT, CREATE, DROP, ALTER") as (user, password):
        settings = mysql_mart.config(staging_load="load_data")
        settings["mart"]["user"] = user
        from jobs.publish.mart import Mart
        from jobs.publish.settings import PublishSettings

        with Mart(spark, PublishSettings.from_config(settings, {"MART_TEST_PASSWORD": password})) as mart:
            with pytest.raises(MartError) as failed:
                mart.publish(mart_data.frames(spark, 10, "B"), "2026-11-02")
    message = str(failed.value)
    assert message.startswith("writing the staging table artists__staging failed at ")
    assert f"as user {user}" in message and "denied" in message.lower() and "grant the mart user" in message
    assert password not in message and "Traceback" not in message and "\n" not in message


def _stream_connection(mysql_mart) -> StreamConnection:
    url = MartUrl.parse(mysql_mart.url)
    return StreamConnection(
        host=url.host,
        port=url.port,
        user=mysql_mart.user,
        password=mysql_mart.password,
        database=url.database,
        charset="utf8mb4",
        autocommit=True,
    )


def test_the_connection_serves_its_own_stream_and_refuses_any_other_file(mysql_mart, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("stolen\t1\n", encoding="utf-8")
    conn = _stream_connection(mysql_mart)
    try:
        conn.query("CREATE TABLE t (name VARCHAR(64) NOT NULL, n INT NOT NULL)")
        assert conn.load("t", ("name", "n"), [b"a\t1\nb\t", b"2\n"]) == (2, 0)
        for statement in (
            f"LOAD DATA LOCAL INFILE '{secret}' INTO TABLE t",  # asked outside any stream
            "LOAD DATA LOCAL INFILE 'ra-stream-guess' INTO TABLE t",
        ):
            with pytest.raises(StreamRefused, match="not this statement's stream: refused"):
                conn.query(statement)
        conn._stream = ("ra-stream-mine", [b"x\t3\n"])  # a stream set, another name asked for
        with pytest.raises(StreamRefused):
            conn.query(f"LOAD DATA LOCAL INFILE '{secret}' INTO TABLE t")
        conn.query("SELECT name, n FROM t ORDER BY name")
        assert [tuple(r) for r in conn._result.rows] == [("a", 1), ("b", 2)]  # usable, nothing else loaded
    finally:
        conn.close()


class _FakeControl:
    """A control connection answering the probe ``SELECT @@local_infile, @@max_allowed_packet``."""

    dialect = "mysql"

    def __init__(self, local_infile: int):
        self.local_infile = local_infile
        self.asked = []

    def query(self, sql, params=()):
        self.asked.append(sql)
        return [(self.local_infile, 16 << 20)]


def test_auto_falls_back_to_jdbc_when_local_infile_is_off_or_tls_cannot_be_mapped(caplog):
    plain = MartTarget(url="jdbc:mysql://db.test:3306/mart", user="u", password="s3cret")
    with caplog.at_level(logging.INFO, logger="jobs.publish.mart"):
        assert staging_loader(_FakeControl(0), plain, "auto") is None
        assert "staging writes: Spark's JDBC writer (the server has local_infile off)" in caplog.text
        loader = staging_loader(_FakeControl(1), plain, "auto")
        assert (loader.host, loader.port, loader.database, loader.user) == ("db.test", 3306, "mart", "u")
        assert loader.ssl == {"verify_mode": "none"} and "s3cret" not in repr(loader)
        assert staging_loader(_FakeControl(1), plain, "jdbc") is None
        verified = MartTarget(url="jdbc:mysql://db.test/mart?sslMode=VERIFY_IDENTITY", user="u")
        control = _FakeControl(1)
        assert staging_loader(control, verified, "auto") is None and control.asked == []
        assert "mart.url sets TLS (sslMode=VERIFY_IDENTITY)" in caplog.text
    assert "s3cret" not in caplog.text
    with pytest.raises(MartError, match='"load_data" cannot be used .* local_infile off'):
        staging_loader(_FakeControl(0), plain, "load_data")
    with pytest.raises(MartError, match="does not map"):
        staging_loader(_FakeControl(1), verified, "load_data")


@pytest.mark.parametrize(
    "params, ssl",
    [
        ("", {"verify_mode": "none"}),
        ("?sslMode=DISABLED", None),
        ("?useSSL=false", None),
        ("?sslMode=PREFERRED", {"verify_mode": "none"}),
        ("?sslMode=REQUIRED", "no"),
        ("?useSSL=true", "no"),
        ("?trustCertificateKeyStoreUrl=file:/x", "no"),
    ],
)
def test_tls_settings_are_mapped_only_when_pymysql_does_the_same(params, ssl):
    mapped, problem = pymysql_tls(MartUrl.parse(f"jdbc:mysql://h/db{params}"))
    assert (mapped, problem == "") == ((None, False) if ssl == "no" else (ssl, True))
    assert pymysql_tls(MartUrl.parse(f"jdbc:mariadb://h/db{params}"))[0] == (None if params == "" else mapped)


def _indexes(conn, table: str) -> list[tuple]:
    """(name without its tag, position, column, non-unique) of each index of ``table``."""
    with conn.cursor() as cursor:
        cursor.execute(f"SHOW INDEX FROM {table}")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    return sorted(
        (re.sub(r"_[0-9a-f]{12}$|_ddl$", "", r["Key_name"]), r["Seq_in_index"], r["Column_name"], int(r["Non_unique"]))
        for r in rows
    )


def test_staging_indexes_built_after_the_load_equal_the_ddls(spark, mysql_mart):
    with open_mart(spark, mysql_mart, staging_load="load_data") as mart:
        mart.publish(mart_data.frames(spark, 10, "A"), "2026-11-01")
    conn = mysql_mart.reader()
    try:
        for table in ("artists", "artist_aliases", "top_tracks", "related_artists"):
            with conn.cursor() as cursor:
                for statement in create_statements("mysql", table, f"{table}_ddl", tag="ddl"):
                    cursor.execute(statement)
            assert _indexes(conn, table) == _indexes(conn, f"{table}_ddl"), table
        assert len(_indexes(conn, "artists")) == 4
    finally:
        conn.close()
