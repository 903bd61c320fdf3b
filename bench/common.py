"""Pieces the benchmark scripts share: child-process environment, peak memory sampling."""

from __future__ import annotations

import os
import threading


class PeakMemory:
    """Peak resident memory of this process's children (all descendants, summed), sampled every 0.2 s."""

    def __enter__(self):
        import psutil

        self._me = psutil.Process()
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        import psutil

        while not self._stop.wait(0.2):
            total = 0
            for proc in self._me.children(recursive=True):
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def gib(self) -> float:
        return self.peak / 2**30


def child_env() -> dict:
    """The environment of a job run by a benchmark: this one's (the jobs import from the installed package)."""
    return dict(os.environ)
