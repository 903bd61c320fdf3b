"""Stage timing for job logs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stage(log: logging.Logger, name: str) -> Iterator[dict]:
    """Log how long the ``with`` block took; the yielded dict receives ``seconds`` at the end."""
    record: dict = {}
    start = time.perf_counter()
    log.info("%s: started", name)
    try:
        yield record
    finally:
        record["seconds"] = time.perf_counter() - start
        log.info("%s: %.1f s", name, record["seconds"])
