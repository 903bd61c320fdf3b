"""Shared fixtures: one local SparkSession with Delta for the whole run, configured like conf/local.toml."""

from __future__ import annotations

import logging
import os
import secrets
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pymysql
import pytest

from jobs.common.config import load_config, set_path
from jobs.common.spark import start_spark
from tests.support import spark_jobs
from tests.support.parallel import is_serial, slow_first_rank
from tests.support.paths import REPO
from tests.support.skill_calls import REQUEST_KEY, SKILL_SECRET
from tests.support.spark_conf import SMALL_DATA_CONF

TEST_SPARK_CONF = {**SMALL_DATA_CONF, "spark.driver.memory": "2g"}


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # the controller (or the only process): a fresh job count
        spark_jobs.reset()
    ahead = os.environ.get("TEST_CLOCK_AHEAD_DAYS")
    if ahead:  # make test-clock: every date and time this process reads moves ahead (not durations)
        import datetime

        import time_machine

        moved = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=float(ahead))
        traveller = time_machine.travel(moved, tick=True)
        traveller.start()
        config.add_cleanup(traveller.stop)


def pytest_report_header(config):
    if os.environ.get("TEST_CLOCK_AHEAD_DAYS"):
        import datetime

        return f"clock moved ahead: the tests see {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    return None


def pytest_terminal_summary(terminalreporter):
    line = spark_jobs.summary()
    if line:
        terminalreporter.write_line(line)


# A test that uses one of these fixtures (directly or through another fixture) runs on a JVM: marked ``jvm``.
# Tests that start JVM processes themselves carry the marker in their module.
JVM_FIXTURES = {"spark"}


def pytest_collection_modifyitems(config, items):
    """Marks the tests that need a JVM ``jvm`` (``make test-fast`` leaves them out) and the modules with
    wall-clock bounds ``serial``; on xdist workers, the slowest modules go first."""
    for item in items:
        if JVM_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.jvm)
        if is_serial(item.nodeid):
            item.add_marker(pytest.mark.serial)
    if getattr(config.option, "numprocesses", None):
        items.sort(key=lambda item: slow_first_rank(item.nodeid))


@pytest.fixture(scope="session")
def spark():
    config = load_config()
    set_path(config, "spark.master", "local[2]")
    # SPARK_TEST_EVENT_LOG=1: the session's events too, to see which calls run the jobs (profiling only)
    more = spark_jobs.event_log_conf() if os.environ.get("SPARK_TEST_EVENT_LOG") else {}
    for key, value in {**TEST_SPARK_CONF, **more}.items():
        set_path(config, f'spark.conf."{key}"', value)
    session = start_spark(config, "tests")
    yield session
    spark_jobs.record_session(session, os.environ.get("PYTEST_XDIST_WORKER", "session"))
    session.stop()


@pytest.fixture(autouse=True)
def jobs_per_test(request):
    """With ``SPARK_JOBS_PER_TEST=FILE``: each test's Spark jobs in the session JVM, a line per test."""
    path = os.environ.get("SPARK_JOBS_PER_TEST")
    if not path:
        yield
        return
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    before = spark_jobs.session_jobs(active) if active else 0
    yield
    active = SparkSession.getActiveSession()
    after = spark_jobs.session_jobs(active) if active else 0
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"{after - before}\t{request.node.nodeid}\n")


@pytest.fixture(autouse=True)
def request_key(monkeypatch):
    """The chatbot's REQUEST_KEY in the environment, as a deployment gives it (a test of its absence
    deletes it)."""
    monkeypatch.setenv("REQUEST_KEY", REQUEST_KEY)
    return REQUEST_KEY


@pytest.fixture(autouse=True)
def restore_root_logging():
    """Tests that call a job's main() get its stderr handler removed again.

    basicConfig binds the handler to pytest's per-test capture stream, which is closed after the test.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def lake_dir(tmp_path):
    return str(tmp_path / "lake")


# -- marts -------------------------------------------------------------------------------------------------
# MySQL tests run against a real MariaDB server: scripts/mariadb.sh starts a private one (make test and
# .ci/run do it first). MART_TEST_SOCKET / MART_TEST_PORT point elsewhere. A missing server fails the run.


@dataclass(frozen=True)
class MartServer:
    host: str
    port: int
    socket: str
    user: str
    password: str

    def root(self, database: str | None = None):
        return pymysql.connect(
            unix_socket=self.socket, user="root", database=database, autocommit=True, charset="utf8mb4"
        )

    @contextmanager
    def extra_user(self, prefix: str, database: str, privileges: str = "ALL", tls_only: bool = False):
        """A user of its own with ``privileges`` on ``database`` (``REQUIRE SSL`` when ``tls_only``),
        dropped afterwards: yields ``(user, password)``."""
        user, password = f"{prefix}{secrets.token_hex(3)}", secrets.token_hex(12)
        root = self.root()
        try:
            with root.cursor() as cursor:
                for host in ("127.0.0.1", "localhost"):
                    cursor.execute(
                        "CREATE USER %s@%s IDENTIFIED BY %s" + (" REQUIRE SSL" if tls_only else ""),
                        (user, host, password),
                    )
                    cursor.execute(f"GRANT {privileges} ON `{database}`.* TO %s@%s", (user, host))
            yield user, password
        finally:
            with root.cursor() as cursor:
                for host in ("127.0.0.1", "localhost"):
                    cursor.execute("DROP USER IF EXISTS %s@%s", (user, host))
            root.close()


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MartServer]:
    socket = os.environ.get("MART_TEST_SOCKET", str(REPO / ".cache" / "mariadb" / "mysqld.sock"))
    port = int(os.environ.get("MART_TEST_PORT", "3307"))
    try:
        conn = pymysql.connect(unix_socket=socket, user="root", autocommit=True, connect_timeout=5)
    except pymysql.err.OperationalError as exc:
        pytest.fail(
            f"no MariaDB server answers at {socket} ({exc}): start one with scripts/mariadb.sh start", pytrace=False
        )
    # A user of its own per session, so that two sessions on one server do not reset each other's password.
    user, password = f"mart_test_{secrets.token_hex(4)}", secrets.token_hex(16)
    hosts = ("127.0.0.1", "localhost")
    with conn.cursor() as cursor:
        for host in hosts:
            cursor.execute("CREATE OR REPLACE USER %s@%s IDENTIFIED BY %s", (user, host, password))
            cursor.execute("GRANT ALL ON `mart\\_t\\_%%`.* TO %s@%s", (user, host))
    conn.close()
    yield MartServer("127.0.0.1", port, socket, user, password)
    conn = pymysql.connect(unix_socket=socket, user="root", autocommit=True, connect_timeout=5)
    with conn.cursor() as cursor:
        for host in hosts:
            cursor.execute("DROP USER IF EXISTS %s@%s", (user, host))
    conn.close()


@dataclass(frozen=True)
class MartUnderTest:
    """One empty mart database: its [mart] config section, password env and a reader connection factory."""

    url: str
    user: str
    password: str
    dialect: str

    def config(self, **settings) -> dict:
        return {"mart": {"url": self.url, "user": self.user, "password_env": "MART_TEST_PASSWORD", **settings}}

    def env(self) -> dict:
        return {"MART_TEST_PASSWORD": self.password}

    def reader(self):
        from mart import serving

        return serving.connect(self.url, self.user, self.password)


def _mysql_mart(server: MartServer):
    name = f"mart_t_{secrets.token_hex(4)}"
    root = server.root()
    with root.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    yield MartUnderTest(f"jdbc:mysql://{server.host}:{server.port}/{name}", server.user, server.password, "mysql")
    with root.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
    root.close()


@pytest.fixture
def mysql_mart(mariadb):
    yield from _mysql_mart(mariadb)


@pytest.fixture
def sqlite_mart(tmp_path):
    return MartUnderTest(f"jdbc:sqlite:{tmp_path / 'mart.db'}", "", "", "sqlite")


@pytest.fixture(params=["mysql", "sqlite"])
def any_mart(request, tmp_path):
    """Each test using it runs twice: on a MariaDB database and on an SQLite file."""
    if request.param == "sqlite":
        yield MartUnderTest(f"jdbc:sqlite:{tmp_path / 'mart.db'}", "", "", "sqlite")
    else:
        yield from _mysql_mart(request.getfixturevalue("mariadb"))


# -- AWS ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server on 127.0.0.1, one for the whole run (each stop waits out its server's 0.5 s poll);
    yields its endpoint URL. Tests reach it through ``moto_aws``, which empties it around each test."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def reset_moto(endpoint: str) -> None:
    """Empty moto's accounts (they live in this process, whichever server answers)."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()


@pytest.fixture
def moto_aws(moto_server, monkeypatch):
    """moto's server standing in for AWS, empty when the test starts and again when it ends: boto3 in this
    process is pointed at it.

    Yields the endpoint URL (for clients that do not read AWS_ENDPOINT_URL, such as Hadoop's S3A).
    """
    reset_moto(moto_server)
    for name, value in {
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    yield moto_server
    reset_moto(moto_server)


# -- chatbot -----------------------------------------------------------------------------------------------


@pytest.fixture(params=["mysql", "sqlite"])
def served_mart(request, tmp_path):
    """A mart filled by tests/support/chatbot_mart.py (BLACKPINK and friends, Artist 0..199), on MariaDB and SQLite."""
    from tests.support import chatbot_mart

    if request.param == "sqlite":
        mart = MartUnderTest(f"jdbc:sqlite:{tmp_path / 'mart.db'}", "", "", "sqlite")
        yield from _filled(mart, chatbot_mart)
    else:
        for mart in _mysql_mart(request.getfixturevalue("mariadb")):
            yield from _filled(mart, chatbot_mart)


def _filled(mart: MartUnderTest, chatbot_mart):
    conn = mart.reader()
    chatbot_mart.fill(conn, mart.dialect, 200)
    conn.close()
    yield mart


@pytest.fixture
def skill_env(served_mart) -> dict:
    """Chatbot environment variables for the served mart (live lookups off, a short time budget)."""
    return {
        "REQUEST_KEY": REQUEST_KEY,
        "MART_URL": served_mart.url,
        "MART_USER": served_mart.user,
        "MART_PASSWORD": served_mart.password,
        "DB_TIMEOUT_SECONDS": "1",
        "TIME_BUDGET_SECONDS": "3",
    }


@pytest.fixture
def app(skill_env):
    """The chatbot application of one warm Lambda container, on the served mart."""
    from chatbot_lambda.app import SkillApp
    from chatbot_lambda.settings import Settings

    skill = SkillApp(Settings.from_env(skill_env))
    yield skill
    skill.repository.close()


@pytest.fixture
def signed_app(skill_env):
    """The same, with a skill secret: its users are verified, so it learns from them (``Settings.learning``);
    ``tests.support.skill_calls.ask`` and ``tap`` send the secret."""
    from chatbot_lambda.app import SkillApp
    from chatbot_lambda.settings import Settings

    skill = SkillApp(Settings.from_env({**skill_env, "SKILL_SECRET": SKILL_SECRET}))
    yield skill
    skill.repository.close()
