"""Seconds spent per named phase, summed on the driver and over Spark tasks.

A :class:`Stopwatch` charges the time since its last lap to a phase name; the
neighbour search uses one on the driver and one per task. Tasks send theirs
back through a Spark accumulator of :class:`PhaseSecondsParam` (``{phase:
seconds}``, added key by key), so the driver can report them after the search's
DataFrame has been evaluated.
"""

from __future__ import annotations

import time

from pyspark.accumulators import AccumulatorParam


class Stopwatch:
    """``lap(phase)`` adds the seconds since the previous lap (or ``restart()``) to ``seconds[phase]``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._since = time.perf_counter()

    def restart(self) -> None:
        self._since = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + (now - self._since)
        self._since = now


class PhaseSecondsParam(AccumulatorParam):
    """Accumulates ``{phase: seconds}`` dicts by adding the seconds of equal phases."""

    def zero(self, value: dict[str, float]) -> dict[str, float]:
        return {}

    def addInPlace(self, value1: dict[str, float], value2: dict[str, float]) -> dict[str, float]:
        for phase, seconds in value2.items():
            value1[phase] = value1.get(phase, 0.0) + seconds
        return value1


def describe(seconds: dict[str, float]) -> str:
    """``"query 1.23 s, ranking 0.40 s"`` in the dict's order."""
    return ", ".join(f"{phase} {value:.2f} s" for phase, value in seconds.items()) or "nothing timed"
