"""The mart-wide publish lock (step 0 of the protocol in ``jobs/publish/mart.py``): ``GET_LOCK`` on
MySQL, ``flock`` on SQLite, behind one interface (``acquire``, ``verify``, ``release``).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import logging
import os
import socket
from pathlib import Path
from typing import Protocol

from jobs.common.errors import MartError
from jobs.common.java_errors import java_message
from jobs.common.jdbc import MartConnection, MartTarget

log = logging.getLogger("jobs.publish.mart")  # the publish's log lines keep one logger name

# MySQL user-level lock names are server-wide (and at most 64 characters): the database name is part of it.
LOCK_PREFIX = "mart_publish:"


def mysql_lock_name(database: str) -> str:
    """The ``GET_LOCK`` name of the publish lock of MySQL database ``database``."""
    return f"{LOCK_PREFIX}{database}"[:64]


def sqlite_lock_file(database: Path) -> Path:
    """The file whose ``flock`` is the publish lock of SQLite database file ``database``."""
    return database.with_name(database.name + ".publish-lock")


def utc_now() -> str:
    """The time now (UTC) as the mart stores it and the lock file shows it: ``YYYY-MM-DD HH:MM:SS.mmm``."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


class MartBusy(MartError):
    """Another publish or rollback holds the mart's publish lock; nothing was changed."""


def _busy(action: str, holder: str) -> MartBusy:
    return MartBusy(
        f"{action} refused: another publish or rollback of this mart is running ({holder}); "
        f"wait for it to finish, then run again. Nothing was changed"
    )


class PublishLock(Protocol):
    def acquire(self, action: str) -> None:
        """Take the lock for ``action`` (publish, rollback, ...): MartBusy at once when it is taken."""

    def verify(self, action: str) -> None:
        """Raise MartError unless the lock taken is still held."""

    def release(self) -> None:
        """Give the lock back (never raises for a lock already gone)."""


class MysqlLock:
    """``GET_LOCK`` on the publish's own (control) connection: freed by the server with that connection."""

    def __init__(self, conn: MartConnection, target: MartTarget):
        self.conn, self.target = conn, target
        self.name: str | None = None  # the GET_LOCK name while it is held

    def acquire(self, action: str) -> None:
        name = mysql_lock_name(str(self.conn.scalar("SELECT DATABASE()")))
        if self.conn.scalar("SELECT GET_LOCK(?, 0)", (name,)) != 1:
            holder = self.conn.query(
                "SELECT ID, USER, HOST FROM information_schema.PROCESSLIST WHERE ID = IS_USED_LOCK(?)", (name,)
            )
            who = (
                f"holder: connection {holder[0][0]} of {holder[0][1]}@{holder[0][2]}"
                if holder
                else f"holder: connection {self.conn.scalar('SELECT IS_USED_LOCK(?)', (name,))}"
            )
            raise _busy(action, f"{who}, lock {name!r}")
        self.name = name

    def verify(self, action: str) -> None:
        """The server frees a ``GET_LOCK`` with the connection that took it: a control connection
        dropped during the staging writes (``KILL``, ``wait_timeout``, a server restart, a driver
        that reconnected) has lost it, and another publish may already hold it.
        """
        name = self.name
        if name is None:
            return
        try:
            held = self.conn.scalar("SELECT IS_USED_LOCK(?) = CONNECTION_ID()", (name,))
            reason = "this job's control connection no longer holds it"
        except Exception as exc:  # py4j: the connection itself is gone
            held, reason = None, f"this job's control connection failed: {java_message(exc)}"
        if held != 1:
            raise MartError(
                f"{action} stopped: lost the publish lock {name!r} on {self.target.shown_url} "
                f"({reason}); nothing was swapped, the live set is unchanged. Run again; if it "
                f"recurs, look for what drops the connection (KILL, the server's wait_timeout, a proxy)"
            )

    def release(self) -> None:
        name, self.name = self.name, None
        if name is None:
            return
        try:
            self.conn.scalar("SELECT RELEASE_LOCK(?)", (name,))
        except Exception as exc:  # the lock dies with the connection anyway
            log.warning("could not release the publish lock %s: %s", name, java_message(exc))


class FlockLock:
    """An exclusive ``flock`` on ``<database file>.publish-lock``, held while this process keeps the
    file open: nothing to verify. A memory database has one connection: nobody else can publish to it.
    """

    def __init__(self, target: MartTarget):
        self.target = target
        self.handle = None  # the open lock file while it is held

    def acquire(self, action: str) -> None:
        database = self.target.sqlite_file()
        if database is None:
            return
        path = sqlite_lock_file(database)
        handle = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "holder unknown"
            handle.close()
            raise _busy(action, f"{holder}; lock file {path}") from None
        except BaseException:
            handle.close()
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"since {utc_now()} UTC, {action} by pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self.handle = handle

    def verify(self, action: str) -> None:
        return None

    def release(self) -> None:
        handle, self.handle = self.handle, None
        if handle is None:
            return
        try:
            handle.truncate(0)  # no stale holder for the next one to read
            fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            handle.close()


def lock_for(conn: MartConnection, target: MartTarget) -> PublishLock:
    """The publish lock of the mart behind ``conn``: chosen once, by its dialect."""
    return MysqlLock(conn, target) if conn.dialect == "mysql" else FlockLock(target)
