"""Where the mart is, and one JDBC connection to it through the Spark driver's JVM.

The connection uses the same JDBC driver, URL and properties as Spark's
DataFrame writer, so a setting that lets the job connect also lets it write.
Statements take ``?`` parameters bound with ``PreparedStatement``: values
never enter SQL text.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from jobs.common.errors import ConfigError, MartError
from jobs.common.java_errors import java_message
from mart.schema import TABLES_SQL, columns_query
from mart.serving import create_private_file
from mart.url import MartUrl, MartUrlError, mask
from shared.secrets import SecretError, secret_value

log = logging.getLogger(__name__)

# URL scheme (MartUrl.scheme) -> (driver class, Maven coordinates that provide it)
DRIVERS = {
    "mysql": ("com.mysql.cj.jdbc.Driver", "com.mysql:mysql-connector-j"),
    "mariadb": ("org.mariadb.jdbc.Driver", "org.mariadb.jdbc:mariadb-java-client"),
    "sqlite": ("org.sqlite.JDBC", "org.xerial:sqlite-jdbc"),
}
PREFIXES = tuple(f"jdbc:{scheme}:" for scheme in DRIVERS)

# Connector/J settings for fast, bounded writes; a setting given in the URL wins.
MYSQL_PROPERTIES = {
    "rewriteBatchedStatements": "true",  # one multi-row INSERT per batch
    "connectTimeout": "10000",  # ms: an unknown or dead host fails fast
    "characterEncoding": "UTF-8",
}


@dataclass(frozen=True)
class MartTarget:
    """A mart database: JDBC URL, user, password (from the environment), and what they imply.

    ``url`` is the text connections are opened with; :attr:`parsed` is that URL parsed once (its
    scheme, dialect, SQLite file and parameters).
    """

    url: str
    user: str = ""
    password: str = field(default="", repr=False)
    password_source: str = "$MART_PASSWORD"  # where the password came from, for messages

    @classmethod
    def from_config(cls, mart: Mapping, env: Mapping[str, str] | None = None) -> MartTarget:
        """From the ``[mart]`` section: ``url``, ``user``, and the password's source.

        ``password_secret`` (an AWS Secrets Manager id: a plain string, or JSON with a
        ``password`` field) when set; otherwise the environment variable ``password_env``.
        """
        env = os.environ if env is None else env
        url = str(mart.get("url", "")).strip()
        if not url:
            raise ConfigError("mart.url is empty: set it to jdbc:sqlite:<file> or jdbc:mysql://host:port/db")
        # A URL of no known scheme is reported by ``driver`` below, after the other settings.
        parsed = cls(url=url).parsed.absolute() if url.startswith(PREFIXES) else None
        if parsed is not None and parsed.dialect == "sqlite":
            url = parsed.bare  # the JVM resolves a relative file against its own start directory
        if "password" in mart:
            raise ConfigError(
                "mart.password is not read from config files: put the password in the "
                "environment variable named by mart.password_env (default MART_PASSWORD)"
            )
        password_env = str(mart.get("password_env", "MART_PASSWORD"))
        secret = str(mart.get("password_secret", "") or "")
        if secret:
            try:
                password = secret_value(secret)
            except SecretError as exc:
                raise MartError(str(exc)) from None
        else:
            password = env.get(password_env, "")
        source = f"AWS secret {secret}" if secret else f"${password_env}"
        user = str(mart.get("user", ""))
        if parsed is not None and parsed.has_credentials:
            # Credentials written in the URL are taken out of it (they would be logged with it); the
            # user and password given by mart.user and the password's source win over them.
            if not password and parsed.password:
                source = "the password written in mart.url"
            user, password = parsed.credentials(user, password)
            url = parsed.bare
        target = cls(url=url, user=user, password=password, password_source=source)
        _ = target.driver  # validates the URL prefix (raises for an unknown one)
        return target

    @cached_property
    def parsed(self) -> MartUrl:
        """The URL parsed (ConfigError when it is not a mart URL this job knows)."""
        if not self.url.startswith(PREFIXES):
            raise ConfigError(
                f"mart.url {self.shown_url!r} is not a JDBC URL this job knows; "
                f"it must start with one of {', '.join(PREFIXES)}"
            )
        try:
            return MartUrl.parse(self.url, label="mart.url ")
        except MartUrlError as exc:
            raise ConfigError(str(exc)) from None

    @property
    def driver(self) -> tuple[str, str]:
        """The JDBC driver class of the URL's scheme and the Maven coordinates that provide it."""
        return DRIVERS[self.parsed.scheme]

    @property
    def dialect(self) -> str:
        return self.parsed.dialect

    @property
    def shown_url(self) -> str:
        """The URL without any password it may carry (``password=...`` or ``//user:password@``), for messages.

        ``mask`` rather than ``parsed.masked``: a target built by hand may carry credentials in its URL,
        and the URL is shown as it is, parameters and all, only its passwords hidden.
        """
        return mask(self.url)

    def properties(self) -> dict[str, str]:
        """Connection properties for both the control connection and Spark's writer."""
        props = {"driver": self.driver[0]}
        if self.user:
            props["user"] = self.user
        if self.password:
            props["password"] = self.password
        if self.dialect == "mysql":
            props.update({k: v for k, v in MYSQL_PROPERTIES.items() if self.parsed.param(k, None) is None})
        return props

    def sqlite_file(self) -> Path | None:
        """The database file of a ``jdbc:sqlite:`` URL (``None`` for memory databases and MySQL)."""
        path = self.parsed.sqlite_file
        return Path(path) if path else None


class MartConnection:
    """One JDBC connection to the mart, opened in the Spark driver's JVM. Use as a context manager.

    ``readonly`` opens an existing mart without changing it: an SQLite file that is missing
    raises MartError instead of being created, and is opened read-only; a MySQL session is made
    ``READ ONLY`` on the server (``SET SESSION TRANSACTION READ ONLY``), which refuses its
    writes to tables (INSERT, UPDATE, DELETE) with an error.
    """

    def __init__(self, spark: SparkSession, target: MartTarget, readonly: bool = False):
        self.target = target
        self.dialect = target.dialect
        self.readonly = readonly
        self._jvm = spark.sparkContext._jvm
        self._conn = self._open()

    def _open(self):
        dialect, (driver, coordinates) = self.target.dialect, self.target.driver
        try:
            # Spark's own registry: finds drivers that --packages / spark.jars put on the classpath.
            self._jvm.org.apache.spark.sql.execution.datasources.jdbc.DriverRegistry.register(driver)
        except Exception as exc:  # py4j wraps the JVM's ClassNotFoundException
            raise MartError(
                f"the JDBC driver {driver} for {self.target.shown_url} is not on Spark's classpath: "
                f"add {coordinates} to spark.packages in the config (or to --packages of "
                f"spark-submit) [{java_message(exc)}]"
            ) from None
        path = self.target.sqlite_file()
        if path is not None and self.readonly and not path.is_file():
            raise MartError(f"no mart at {self.target.shown_url}: publish first")
        if path is not None and not self.readonly:
            create_private_file(str(path))  # it will hold the requests users typed: owner-only
        props = self._jvm.java.util.Properties()
        for key, value in self.target.properties().items():
            props.setProperty(key, value)
        if self.readonly and dialect == "sqlite":
            props.setProperty("open_mode", "1")  # SQLITE_OPEN_READONLY: no create, no writes
        try:
            conn = self._jvm.java.sql.DriverManager.getConnection(self.target.url, props)
        except Exception as exc:
            raise MartError(
                f"cannot connect to the mart at {self.target.shown_url} as user {self.target.user or '(none)'}: "
                f"{java_message(exc)}. Check mart.url and mart.user, and the password in "
                f"{self.target.password_source}"
            ) from None
        if self.readonly and dialect == "mysql":
            # setReadOnly alone need not reach the server: Connector/J sends it only to servers whose
            # version it takes for MySQL 5.6.5+, and MariaDB announces itself as "5.5.5-10.x".
            conn.setReadOnly(True)
            try:
                self._run(conn, "SET SESSION TRANSACTION READ ONLY")  # the server refuses writes from now on
            except Exception as exc:
                conn.close()
                raise MartError(
                    f"cannot make the connection to the mart at {self.target.shown_url} read-only: {java_message(exc)}"
                ) from None
        log.info(
            "connected to the mart at %s (%s)%s",
            self.target.shown_url,
            conn.getMetaData().getDatabaseProductVersion(),
            " read-only" if self.readonly else "",
        )
        return conn

    @staticmethod
    def _run(conn, sql: str) -> None:
        statement = conn.createStatement()
        try:
            statement.execute(sql)
        finally:
            statement.close()

    def __enter__(self) -> MartConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _prepare(self, sql: str, params: Sequence[Any]):
        statement = self._conn.prepareStatement(sql)
        for index, value in enumerate(params, start=1):
            if isinstance(value, bool):
                statement.setBoolean(index, value)
            elif isinstance(value, int):
                statement.setLong(index, value)
            else:
                statement.setObject(index, value)
        return statement

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns its update count."""
        statement = self._prepare(sql, params)
        try:
            statement.execute()
            return statement.getUpdateCount()
        finally:
            statement.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Rows of one query, as tuples of Python values (small results only: one JVM call per cell)."""
        statement = self._prepare(sql, params)
        try:
            result = statement.executeQuery()
            width = result.getMetaData().getColumnCount()
            rows = []
            while result.next():
                rows.append(tuple(result.getObject(i) for i in range(1, width + 1)))
            return rows
        finally:
            statement.close()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[MartConnection]:
        """Statements inside run in one transaction: committed at the end, rolled back on an error."""
        self._conn.setAutoCommit(False)
        try:
            yield self
            self._conn.commit()
        except BaseException:
            self._conn.rollback()
            raise
        finally:
            self._conn.setAutoCommit(True)

    def tables(self) -> set[str]:
        """Names of the tables in the mart's database."""
        return {str(name) for (name,) in self.query(TABLES_SQL[self.dialect])}

    def columns(self, table: str) -> set[str]:
        """Names of the columns of ``table``."""
        sql, params, at = columns_query(self.dialect, table)
        return {str(row[at]) for row in self.query(sql, params)}
