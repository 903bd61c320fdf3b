"""The swap (step 4 of the protocol in ``jobs/publish/mart.py``): one per dialect, both making one
set of serving tables live and the live set previous in one step, and writing the ``publish_log`` row.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from jobs.common.errors import MartError
from jobs.common.java_errors import java_message
from jobs.common.jdbc import MartConnection
from mart.schema import PREVIOUS, RETIRED, SERVING_TABLES, SWAP

log = logging.getLogger("jobs.publish.mart")  # the publish's log lines keep one logger name

Step = Callable[..., AbstractContextManager]  # Mart._database_step: (what[, outcome]) -> context

# Between two tries of the swap: the lookups that queued behind a try run (milliseconds each), and a
# reader that holds its lock for long is tried again every lock_wait_seconds + this; with the default
# 0.25 s tries, lookups are held up at most a third of the time the swap keeps trying.
RETRY_PAUSE_SECONDS = 0.5

# What a try that ran out of time raises: MySQL's lock_wait_timeout (1205), MariaDB's max_statement_time (1969).
TRY_TIMEOUTS = ("lock wait timeout", "max_statement_time exceeded")


def rename_plan(incoming: str, drop_previous: bool) -> list[tuple[str, str]]:
    """The renames that make the set ``incoming`` live.

    With ``drop_previous`` the live set becomes previous (a publish; the old previous set is dropped
    by the swap); without, ``incoming`` is the previous set and the two trade places (a rollback).
    """
    renames = []
    for table in SERVING_TABLES:
        if drop_previous:
            renames += [(table, f"{table}{PREVIOUS}"), (f"{table}{incoming}", table)]
        else:
            renames += [
                (table, f"{table}{SWAP}"),
                (f"{table}{incoming}", table),
                (f"{table}{SWAP}", f"{table}{incoming}"),
            ]
    return renames


class Swap(Protocol):
    def __call__(
        self,
        conn: MartConnection,
        renames: list[tuple[str, str]],
        *,
        drop_previous: bool,
        action: str,
        write_log: Callable[[], None],
        verify_lock: Callable[[str], None],
        step: Step,
        lock_wait_seconds: float,
        lock_attempts: int,
    ) -> None: ...


def is_mariadb(conn: MartConnection) -> bool:
    """True when the server behind ``conn`` is MariaDB (its version says so), false for MySQL."""
    return "mariadb" in str(conn.scalar("SELECT VERSION()")).lower()


def timed_rename(statement: str, wait: float, mariadb: bool) -> str:
    """``statement`` (a ``RENAME TABLE``) as one try that waits at most ``wait`` seconds for its locks.

    ``lock_wait_timeout`` counts whole seconds only (MariaDB refuses 0.25, and cuts ``RENAME ... WAIT 0.9``
    down to ``NOWAIT``), so on MariaDB the try is cut by its own ``max_statement_time``, which counts
    fractions and ends a wait for a metadata lock as it ends any other. A try cut before it had all
    its locks has renamed nothing; the renames themselves take milliseconds, and a statement cut
    during them is undone by the server (``RENAME TABLE`` is atomic). MySQL has no such limit for
    DDL: there a try waits ``lock_wait_timeout``, whole seconds and at least 1.
    """
    if not mariadb:
        return statement
    return f"SET STATEMENT max_statement_time = {max(wait, 0.001):.3f} FOR {statement}"  # 0 would mean no limit


def swap_mysql(
    conn: MartConnection,
    renames: list[tuple[str, str]],
    *,
    drop_previous: bool,
    action: str,
    write_log: Callable[[], None],
    verify_lock: Callable[[str], None],
    step: Step,
    lock_wait_seconds: float,
    lock_attempts: int,
) -> None:
    """One ``RENAME TABLE``, after verifying the publish lock; the ``publish_log`` row after it."""
    verify_lock(action)
    mariadb = is_mariadb(conn)
    # Whole seconds: the limit of a try on MySQL, a backstop behind max_statement_time on MariaDB.
    conn.execute(f"SET SESSION lock_wait_timeout = {max(1, math.ceil(lock_wait_seconds))}")
    if not mariadb and lock_wait_seconds < 1:
        log.warning(
            "MySQL waits for a lock in whole seconds: each try of the swap waits up to 1 s, not "
            "mart.lock_wait_seconds=%g s, and lookups queued behind it may overrun the chatbot's budget",
            lock_wait_seconds,
        )
    retired = [f"{t}{RETIRED}" for t in SERVING_TABLES]
    if drop_previous:
        # The previous set is retired by the same statement and dropped only after it:
        # a swap that fails keeps all three sets.
        with step("dropping the retired tables before the swap"):
            conn.execute("DROP TABLE IF EXISTS " + ", ".join(retired))
        present = conn.tables()
        renames = [(f"{t}{PREVIOUS}", f"{t}{RETIRED}") for t in SERVING_TABLES if f"{t}{PREVIOUS}" in present] + renames
    # One statement: readers see the old set or the new one, never a mix or a missing table.
    rename = "RENAME TABLE " + ", ".join(f"{old} TO {new}" for old, new in renames)
    rename_with_retries(
        conn, timed_rename(rename, lock_wait_seconds, mariadb), action, verify_lock, lock_wait_seconds, lock_attempts
    )
    # Not in the RENAME's atomic step (MySQL DDL commits on its own): a failure here leaves
    # the new set live without its publish_log row.
    with step("writing the publish_log row", "the new set IS live (swap done)"):
        write_log()
    if drop_previous:
        try:
            conn.execute("DROP TABLE IF EXISTS " + ", ".join(retired))
        except Exception as exc:  # harmless leftovers: the next publish drops them
            log.warning("could not drop %s: %s", ", ".join(retired), java_message(exc))


def rename_with_retries(
    conn: MartConnection, statement: str, action: str, verify_lock: Callable[[str], None], wait: float, attempts: int
) -> None:
    """Run the swap's ``RENAME TABLE`` (``statement``, one try of ``wait`` seconds: ``timed_rename``)
    up to ``attempts`` times, pausing ``RETRY_PAUSE_SECONDS`` between tries.

    While RENAME waits for a reader's metadata lock, every new lookup of those tables queues
    behind it: a wait well under the chatbot's statement budget (``settings.py``) keeps each
    queued lookup within it. A try that ran out of time is retried after the pause, in which
    lookups run freely, and the publish lock verified again; the statement is atomic, so a swap
    that never got the lock leaves the live set as it was.
    """
    for attempt in range(1, attempts + 1):
        try:
            conn.execute(statement)
            return
        except Exception as exc:  # py4j: e.g. a try that timed out behind a long-running reader
            message = java_message(exc)
            if attempt == attempts or not any(timeout in message.lower() for timeout in TRY_TIMEOUTS):
                raise MartError(
                    f"the swap did not happen, the live set is unchanged: {message} (attempt "
                    f"{attempt} of mart.lock_attempts={attempts}, each waiting at most "
                    f"mart.lock_wait_seconds={wait:g} s for readers)"
                ) from None
        log.warning(
            "the swap waited %g s for a reader of the live tables (attempt %d of %d): retrying in %g s",
            wait,
            attempt,
            attempts,
            RETRY_PAUSE_SECONDS,
        )
        time.sleep(RETRY_PAUSE_SECONDS)
        verify_lock(action)


def swap_sqlite(
    conn: MartConnection,
    renames: list[tuple[str, str]],
    *,
    drop_previous: bool,
    action: str,
    write_log: Callable[[], None],
    verify_lock: Callable[[str], None],
    step: Step,
    lock_wait_seconds: float,
    lock_attempts: int,
) -> None:
    """One transaction (SQLite has one writer): the renames and the ``publish_log`` row commit together."""
    with step("the swap"), conn.transaction():
        if drop_previous:
            for table in SERVING_TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}{PREVIOUS}")
        for old, new in renames:
            conn.execute(f"ALTER TABLE {old} RENAME TO {new}")
        write_log()


def swap_for(dialect: str) -> Swap:
    """The swap of a mart of ``dialect``."""
    return swap_mysql if dialect == "mysql" else swap_sqlite
