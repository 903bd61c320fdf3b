"""Progress of a long loop: a bar on a terminal, a log line every few seconds otherwise."""

from __future__ import annotations

import logging
import sys
import time


class Progress:
    """Call ``advance(n)`` as work gets done and ``close()`` at the end, or use it as a context
    manager, which closes it however the loop ends (the last line says how far it got)."""

    def __init__(self, label: str, total: int, log: logging.Logger, every: float = 10.0, stream=None):
        self.label, self.total, self.log, self.every = label, max(total, 0), log, every
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.done = 0
        self.started = self._last = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.tty:
            width = 30
            filled = int(width * self.done / self.total) if self.total else width
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                              f"{self.done}/{self.total} {now - self.started:.0f}s")
            self.stream.flush()
        elif now - self._last >= self.every:
            self._last = now
            self.log.info("%s: %d of %d after %.0f s", self.label, self.done, self.total, now - self.started)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
        self.log.info("%s: %d of %d in %.1f s", self.label, self.done, self.total, time.monotonic() - self.started)
