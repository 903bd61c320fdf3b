"""The mart's JDBC target and connection (``jobs.common.jdbc``) and the Java errors read through it, on
MariaDB (scripts/mariadb.sh) and SQLite.
"""

from __future__ import annotations

import time

import pytest

from jobs.common.errors import MartError
from jobs.common.java_errors import is_java_error, is_sql_error
from jobs.common.jdbc import MartConnection, MartTarget
from jobs.publish.mart import Mart
from jobs.publish.settings import PublishSettings
from tests.support import mart_data
from tests.support.publish import open_mart, table_rows


def test_shown_url_hides_passwords_in_the_url():
    shown = MartTarget(url="jdbc:mysql://batch:s3cr%40t@db.example:3306/mart?user=x&password=hunter2").shown_url
    assert "s3cr" not in shown and "hunter2" not in shown
    assert shown == "jdbc:mysql://batch:***@db.example:3306/mart?user=x&password=***"
    assert MartTarget(url="jdbc:mysql://db:3306/mart").shown_url == "jdbc:mysql://db:3306/mart"
    assert MartTarget(url="jdbc:mysql://batch@db:3306/mart").shown_url == "jdbc:mysql://batch@db:3306/mart"


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


def test_a_read_only_connection_on_mysql_is_read_only_on_the_server(spark, mysql_mart):
    with open_mart(spark, mysql_mart) as mart:
        mart.publish(mart_data.frames(spark, 5, "A"), "2026-11-01")
        target = mart.target
    with MartConnection(spark, target, readonly=True) as conn:
        assert conn.scalar("SELECT @@session.tx_read_only") == 1  # not only the driver's flag
        assert conn.scalar("SELECT COUNT(*) FROM artists") == 5
        with pytest.raises(Exception, match="(?i)read.only"):
            conn.execute(
                "INSERT INTO artist_requests (name_key, name, first_requested_at, last_requested_at) "
                "VALUES (?, ?, ?, ?)",
                ("newjeans", "NewJeans", "2026-11-01 10:00:00", "2026-11-01 10:00:00"),
            )
        with pytest.raises(Exception, match="(?i)read.only"):
            conn.execute("DELETE FROM publish_log")
        conn._conn.setReadOnly(False)  # past Connector/J's own check: the server itself refuses
        with pytest.raises(Exception, match="Cannot execute statement in a READ ONLY transaction"):
            conn.execute("DELETE FROM publish_log")
    assert table_rows(mysql_mart, "artist_requests") == []
    assert len(table_rows(mysql_mart, "publish_log")) == 1


def test_is_sql_error_tells_the_database_s_errors_from_spark_s(spark, sqlite_mart):
    with open_mart(spark, sqlite_mart) as mart:
        with pytest.raises(Exception) as sql:
            mart.conn.query("SELECT * FROM nowhere")
    with pytest.raises(Exception) as spark_error:
        spark.sql("SELECT assert_true(false, 'not the database')").collect()
    assert is_java_error(sql.value) and is_sql_error(sql.value)
    assert is_java_error(spark_error.value) and not is_sql_error(spark_error.value)
    assert not is_sql_error(ValueError("denied"))
