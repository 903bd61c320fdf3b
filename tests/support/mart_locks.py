"""The publish lock of a mart, taken from outside the job as another publisher would take it."""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path

from jobs.publish.lock import mysql_lock_name, sqlite_lock_file
from mart import serving


@contextmanager
def holding_publish_lock(mart):
    """The mart's publish lock, taken from outside the job as another publisher would take it."""
    if mart.dialect == "mysql":
        conn = mart.reader()
        try:
            ((database,),) = serving.fetch_all(conn, "SELECT DATABASE()")
            assert serving.fetch_all(conn, "SELECT GET_LOCK(?, 0)", (mysql_lock_name(database),)) == [(1,)]
            yield
        finally:
            conn.close()  # frees the lock
    else:
        with open(sqlite_lock_file(Path(mart.url[len("jdbc:sqlite:") :])), "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            handle.truncate(0)
            handle.write("since 2026-11-02 10:00:00 UTC, publish by pid 4242 on testhost\n")
            handle.flush()
            yield
