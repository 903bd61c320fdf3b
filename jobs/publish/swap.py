"""The swap (step 4 of the protocol in ``jobs/publish/mart.py``): one per dialect, both making one
set of serving tables live and the live set previous in one step, and writing the ``publish_log`` row.
"""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from typing import Callable, Protocol

from jobs.common.errors import MartError
from jobs.common.java_errors import java_message
from jobs.common.jdbc import MartConnection
from mart.schema import PREVIOUS, RETIRED, SERVING_TABLES, SWAP

log = logging.getLogger("jobs.publish.mart")   # the publish's log lines keep one logger name

Step = Callable[..., AbstractContextManager]   # Mart._database_step: (what[, outcome]) -> context


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
            renames += [(table, f"{table}{SWAP}"), (f"{table}{incoming}", table),
                        (f"{table}{SWAP}", f"{table}{incoming}")]
    return renames


class Swap(Protocol):
    def __call__(self, conn: MartConnection, renames: list[tuple[str, str]], *, drop_previous: bool, action: str,
                 write_log: Callable[[], None], verify_lock: Callable[[str], None], step: Step,
                 lock_wait_seconds: int, lock_attempts: int) -> None: ...


def swap_mysql(conn: MartConnection, renames: list[tuple[str, str]], *, drop_previous: bool, action: str,
               write_log: Callable[[], None], verify_lock: Callable[[str], None], step: Step,
               lock_wait_seconds: int, lock_attempts: int) -> None:
    """One ``RENAME TABLE``, after verifying the publish lock; the ``publish_log`` row after it."""
    verify_lock(action)
    conn.execute(f"SET SESSION lock_wait_timeout = {int(lock_wait_seconds)}")
    retired = [f"{t}{RETIRED}" for t in SERVING_TABLES]
    if drop_previous:
        # The previous set is retired by the same statement and dropped only after it:
        # a swap that fails keeps all three sets.
        with step("dropping the retired tables before the swap"):
            conn.execute("DROP TABLE IF EXISTS " + ", ".join(retired))
        present = conn.tables()
        renames = [(f"{t}{PREVIOUS}", f"{t}{RETIRED}") for t in SERVING_TABLES
                   if f"{t}{PREVIOUS}" in present] + renames
    # One statement: readers see the old set or the new one, never a mix or a missing table.
    rename_with_retries(conn, "RENAME TABLE " + ", ".join(f"{old} TO {new}" for old, new in renames), action,
                        verify_lock, lock_wait_seconds, lock_attempts)
    # Not in the RENAME's atomic step (MySQL DDL commits on its own): a failure here leaves
    # the new set live without its publish_log row.
    with step("writing the publish_log row", "the new set IS live (swap done)"):
        write_log()
    if drop_previous:
        try:
            conn.execute("DROP TABLE IF EXISTS " + ", ".join(retired))
        except Exception as exc:   # harmless leftovers: the next publish drops them
            log.warning("could not drop %s: %s", ", ".join(retired), java_message(exc))


def rename_with_retries(conn: MartConnection, statement: str, action: str, verify_lock: Callable[[str], None],
                        wait: int, attempts: int) -> None:
    """Run the swap's ``RENAME TABLE`` waiting at most ``lock_wait_seconds`` per attempt for readers.

    While RENAME waits for a reader's metadata lock, every new lookup of those tables queues
    behind it: a short wait bounds that queue. A lock wait timeout is retried after a pause
    (0.5 s, 1 s, 2 s, ...) in which lookups run freely, up to ``lock_attempts`` times; the
    statement is atomic, so a swap that never got the lock leaves the live set as it was.
    """
    for attempt in range(1, attempts + 1):
        try:
            conn.execute(statement)
            return
        except Exception as exc:  # py4j: e.g. a lock wait timeout behind a long-running reader
            message = java_message(exc)
            if attempt == attempts or "lock wait timeout" not in message.lower():
                raise MartError(f"the swap did not happen, the live set is unchanged: {message} (attempt "
                                f"{attempt} of mart.lock_attempts={attempts}, each waiting at most "
                                f"mart.lock_wait_seconds={wait} s for readers)") from None
        pause = 0.5 * 2 ** (attempt - 1)
        log.warning("the swap waited %d s for a reader of the live tables (attempt %d of %d): retrying in %.1f s",
                    wait, attempt, attempts, pause)
        time.sleep(pause)
        verify_lock(action)


def swap_sqlite(conn: MartConnection, renames: list[tuple[str, str]], *, drop_previous: bool, action: str,
                write_log: Callable[[], None], verify_lock: Callable[[str], None], step: Step,
                lock_wait_seconds: int, lock_attempts: int) -> None:
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
