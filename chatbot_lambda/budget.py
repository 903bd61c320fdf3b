"""The time an answer may still take: Kakao waits 5 seconds for a skill, live calls included."""

from __future__ import annotations

import time

KEEP_SECONDS = 0.25  # kept after the last call to build and send the reply


class OutOfTime(TimeoutError):
    """Too little of the budget is left to start another call."""


class Deadline:
    """A point in time (monotonic clock) by which the answer must be ready."""

    def __init__(self, seconds: float, clock=time.monotonic):
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    def timeout(self, longest: float, keep: float = KEEP_SECONDS) -> float:
        """A timeout for the next call: at most ``longest``, leaving ``keep`` seconds to build the reply.

        Raises :class:`OutOfTime` when less than 0.1 s would be left for the call.
        """
        available = self.remaining() - keep
        if available < 0.1:
            raise OutOfTime(f"{self.remaining():.2f} s left of the time budget")
        return min(longest, available)
