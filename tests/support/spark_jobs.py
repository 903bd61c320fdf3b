"""How many Spark jobs the suite ran: the figure its cost follows (each job costs about 0.1 s of JVM CPU
however small its data), printed at the end of every run.

* The session's JVM (the ``spark`` fixture) counts its own: the DAG scheduler numbers jobs from 0, so its
  next job id is the number of jobs it ran.
* Jobs that tests start as processes (``set_args``, ``event_log_args``) write Spark's event log into
  :data:`EVENT_LOGS`; each ``SparkListenerJobStart`` line there is one job.

Under pytest-xdist each worker writes its session count into the same folder, and the controller adds
them up. The folder is emptied when a run starts.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support.paths import REPO

FOLDER = Path(os.environ.get("SPARK_JOB_COUNTS", str(REPO / "build" / "spark-jobs")))
EVENT_LOGS = FOLDER / "event-logs"
_JOB_START = b'"Event":"SparkListenerJobStart"'


def reset() -> None:
    """Empty the folder (the controller, once, before any test)."""
    shutil.rmtree(FOLDER, ignore_errors=True)
    EVENT_LOGS.mkdir(parents=True, exist_ok=True)


def event_log_conf() -> dict[str, str]:
    """Spark settings that make a job process log its events where :func:`summary` counts them."""
    EVENT_LOGS.mkdir(parents=True, exist_ok=True)
    return {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": EVENT_LOGS.as_uri(),
        "spark.eventLog.compress": "false",
    }


def session_jobs(spark) -> int:
    """The number of jobs ``spark``'s context has run so far."""
    return int(spark.sparkContext._jsc.sc().dagScheduler().numTotalJobs())


def record_session(spark, name: str) -> None:
    """Write ``spark``'s job count as ``<name>.count`` (one file per pytest process)."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    (FOLDER / f"{name}.count").write_text(str(session_jobs(spark)))


def counts(folder: Path = FOLDER) -> tuple[int, int]:
    """(jobs in session JVMs, jobs in job processes) recorded in ``folder``; (0, 0) when it is missing."""
    if not folder.is_dir():
        return 0, 0
    in_sessions = sum(int(path.read_text() or 0) for path in folder.glob("*.count"))
    in_processes = 0
    for path in (folder / EVENT_LOGS.name).rglob("*"):
        if path.is_file():
            with path.open("rb") as log:
                in_processes += sum(1 for line in log if _JOB_START in line)
    return in_sessions, in_processes


def summary() -> str | None:
    """``Spark jobs: N (S in the tests' session JVM, P in job processes)``, or None when no JVM ran."""
    in_sessions, in_processes = counts()
    if not in_sessions and not in_processes:
        return None
    return (
        f"Spark jobs: {in_sessions + in_processes} ({in_sessions} in the tests' session JVM, "
        f"{in_processes} in job processes)"
    )
