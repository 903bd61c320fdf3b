"""What a job shows on its console while it runs.

* Progress of a long loop: a bar on a terminal, a log line every few seconds otherwise (Progress).
* Progress of Spark's long stages, and of the jobs' stages that run long (StageProgress).
* Which of the jobs' INFO lines are details, kept for the log file once there is one (ConsoleDetails).
"""

from __future__ import annotations

import logging
import sys
import time

# Loggers whose INFO lines detail what a job's own lines already sum up (each table read or written, the mart
# connection, the neighbour index): once a local Spark start keeps the full log in a file (log_to_file), their
# INFO lines go only there; their warnings and errors still reach the console.
DETAIL_LOGGERS = ("jobs.common.lake", "jobs.common.jdbc", "jobs.transform")


class ConsoleDetails(logging.Filter):
    """The filter of the jobs' console handler (jobs.common.cli.setup_logging): see DETAIL_LOGGERS. A record
    logged with ``extra={"detail": True}`` is a detail too, whatever its logger.

    The first line of a job's stage (jobs.common.timing.stage: "<stage>: started") is held back: its last
    one ("<stage>: 1.5 s") says the same and how long. A stage still running after a while gets a line
    then (:meth:`still_running`, called by StageProgress)."""

    log_file: str | None = None  # set by log_to_file
    held: dict[tuple[str, str], float] = {}  # (logger, stage) -> when its "started" line was held back

    def filter(self, record: logging.LogRecord) -> bool:
        if ConsoleDetails.log_file is None or record.levelno >= logging.WARNING:
            return True
        if record.module == "timing" and record.args:
            key = (record.name, str(record.args[0]))
            if record.msg == "%s: started":
                ConsoleDetails.held[key] = time.monotonic()
                return False
            ConsoleDetails.held.pop(key, None)
            return True
        if getattr(record, "detail", False):
            return False
        return not any(record.name == name or record.name.startswith(name + ".") for name in DETAIL_LOGGERS)

    @classmethod
    def still_running(cls, after: float, now: float | None = None) -> list[str]:
        """Log "<stage>: running for N s" once for each held-back stage started ``after`` seconds ago or more."""
        now = time.monotonic() if now is None else now
        lines = []
        for (name, stage), since in list(cls.held.items()):
            if now - since >= after and cls.held.pop((name, stage), None) is not None:
                lines.append(f"{stage}: running for {now - since:.0f} s")
                logging.getLogger(name).info("%s", lines[-1])
        return lines


def log_to_file(path: str, level: int = logging.INFO) -> None:
    """Every log record of this process from ``level`` up to ``path`` as well (appended; once per path)."""
    root = logging.getLogger()
    path = str(path)
    if not any(isinstance(h, logging.FileHandler) and h.baseFilename == path for h in root.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setLevel(level)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    ConsoleDetails.log_file = path


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
            self.stream.write(
                f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                f"{self.done}/{self.total} {now - self.started:.0f}s"
            )
            self.stream.flush()
        elif now - self._last >= self.every:
            self._last = now
            self.log.info("%s: %d of %d after %.0f s", self.label, self.done, self.total, now - self.started)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
        self.log.info("%s: %d of %d in %.1f s", self.label, self.done, self.total, time.monotonic() - self.started)


class StageProgress:
    """Progress of Spark's long stages, from its status tracker: a stage running for ``after`` seconds gets a
    log line, then another every ``after`` seconds while it runs (its tasks done of all); a short stage none.

    ``StageProgress.start(sc, log)`` watches ``sc`` from a daemon thread until that SparkContext stops.
    """

    def __init__(self, sc, log: logging.Logger, after: float = 10.0, poll: float = 1.0):
        self.sc, self.log, self.after, self.poll = sc, log, after, poll
        self.seen: dict[int, float] = {}  # stage id -> when first seen running
        self.reported: dict[int, float] = {}  # stage id -> when last reported

    @classmethod
    def start(cls, sc, log: logging.Logger, after: float = 10.0) -> StageProgress | None:
        if after <= 0:
            return None
        watcher = cls(sc, log, after)
        import threading

        threading.Thread(target=watcher.run, name="spark-stage-progress", daemon=True).start()
        return watcher

    def run(self) -> None:
        from pyspark import SparkContext

        tracker = self.sc.statusTracker()
        while SparkContext._active_spark_context is self.sc and self.sc._jsc is not None:
            try:
                ConsoleDetails.still_running(self.after)
                self.check(tracker.getActiveStageIds(), tracker.getStageInfo, time.monotonic())
            except Exception:  # the context stopped between the check above and the call
                if SparkContext._active_spark_context is not self.sc:
                    return
            time.sleep(self.poll)

    def check(self, stage_ids, stage_info, now: float) -> list[str]:
        """Log the stages of ``stage_ids`` that are due a line; returns the lines (for the tests)."""
        lines = []
        running = set(stage_ids)
        for stage_id in list(self.seen):
            if stage_id not in running:
                self.seen.pop(stage_id)
                self.reported.pop(stage_id, None)
        for stage_id in sorted(running):
            first = self.seen.setdefault(stage_id, now)
            if now - max(first, self.reported.get(stage_id, first)) < self.after:
                continue
            info = stage_info(stage_id)
            if info is None:
                continue
            self.reported[stage_id] = now
            action = str(info.name).split(" at ", 1)[0]
            lines.append(
                f"Spark stage {stage_id} ({action}): {info.numCompletedTasks} of {info.numTasks} "
                f"tasks done after {now - first:.0f} s"
            )
            self.log.info("%s", lines[-1])
        return lines
