"""The whole suite in lanes, as ``make test`` (and so ``.ci/run``) runs it: every test once at the real
clock, and the fast lane plus the ``clock`` tests again with the tests' clock a year ahead.

Two cores are used as two: the JVM tests keep most of a core busy, while the tests without a JVM mostly
wait on sockets, servers and timeouts. So the run has two phases:

1. Side by side: ``jvm and not serial`` (output shown as it comes) and, in the background, ``not jvm and
   not serial`` then the clock lane's ``(not jvm or clock) and not serial`` (output kept in
   ``build/test-logs/`` and shown when the JVM lane ends).
2. Alone: the ``serial`` tests, which assert wall-clock bounds, at the real clock, then those of the
   clock lane ahead.

Each lane is one pytest process with a temporary folder and a Spark job count of its own. The run ends
with one line per lane (status, tests, time) and the Spark jobs of all lanes; it exits 0 only when every
lane passed and ran tests.

    python -m tests.support.suite [--clock-ahead-days N] [pytest arguments...]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import spark_jobs
from tests.support.paths import REPO

NO_JVM = "/nonexistent/no-jvm-in-the-fast-lane"
LOGS = REPO / "build" / "test-logs"


@dataclass(frozen=True)
class Lane:
    """One pytest run: its name, marker expression and environment."""

    name: str
    markers: str
    env: dict = field(default_factory=dict)


def lanes(ahead_days: int) -> tuple[list[Lane], list[Lane], list[Lane]]:
    """(the JVM lane, the background lanes run after one another beside it, the serial lanes)."""
    ahead = {"TEST_CLOCK_AHEAD_DAYS": str(ahead_days)}
    return (
        [Lane("jvm", "jvm and not serial")],
        [
            Lane("fast", "not jvm and not serial", {"JAVA_HOME": NO_JVM}),
            Lane("clock", "(not jvm or clock) and not serial", ahead),
        ],
        [Lane("serial", "serial"), Lane("serial-clock", "serial and (not jvm or clock)", ahead)],
    )


@dataclass
class Outcome:
    """How a lane ended: pytest's exit status, seconds, its summary line, and its Spark jobs (in its
    session JVM, in job processes)."""

    lane: Lane
    status: int
    seconds: float
    tally: str
    jobs: tuple[int, int]


def pytest_command(lane: Lane, tmp: Path, extra: list[str]) -> list[str]:
    """pytest for ``lane``: its markers, no shared cache (lanes run at once), a temporary folder of its own."""
    return [
        sys.executable,
        "-u",
        "-m",
        "pytest",
        "-m",
        lane.markers,
        "-p",
        "no:cacheprovider",
        f"--basetemp={tmp / lane.name}",
        *extra,
    ]


def lane_env(lane: Lane) -> dict:
    """This process's environment, the lane's variables, and a Spark job count folder of its own."""
    return {**os.environ, **lane.env, "SPARK_JOB_COUNTS": str(spark_jobs.FOLDER / lane.name)}


_TALLY = re.compile(r"^=+ (.*\d+ (?:passed|failed|error|errors|deselected).*) in [\d.]+s.* =+$", re.M)


def tally(output: str) -> str:
    """pytest's last summary line without its time (``12 passed, 3 deselected``), or ``no summary``."""
    found = _TALLY.findall(output)
    return found[-1] if found else "no summary"


def run_lane(lane: Lane, tmp: Path, extra: list[str], shown: bool) -> Outcome:
    """Runs a lane; its output goes to ``build/test-logs/<lane>.log`` and, when ``shown``, to stdout as it
    comes."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{lane.name}.log"
    if shown:
        print(f"\n### lane {lane.name}: pytest -m '{lane.markers}'", flush=True)
    started = time.monotonic()
    with open(log, "w", encoding="utf-8") as kept:
        process = subprocess.Popen(
            pytest_command(lane, tmp, extra),
            cwd=REPO,
            env=lane_env(lane),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        for line in process.stdout:
            if shown:
                sys.stdout.write(line)
            kept.write(line)
        status = process.wait()
    seconds = time.monotonic() - started
    return Outcome(
        lane, status, seconds, tally(log.read_text(encoding="utf-8")), spark_jobs.counts(spark_jobs.FOLDER / lane.name)
    )


def run_in_turn(lanes_in_turn: list[Lane], tmp: Path, extra: list[str], into: list[Outcome]) -> threading.Thread:
    """Starts a thread that runs ``lanes_in_turn`` one after another, output to their logs only, and
    appends their outcomes to ``into``."""

    def work() -> None:
        for lane in lanes_in_turn:
            into.append(run_lane(lane, tmp, extra, shown=False))

    thread = threading.Thread(target=work, name="background lanes", daemon=True)
    thread.start()
    return thread


def show_log(o: Outcome) -> None:
    log = LOGS / f"{o.lane.name}.log"
    print(f"\n### lane {o.lane.name}: pytest -m '{o.lane.markers}' (ran beside the JVM lane; {log})", flush=True)
    sys.stdout.write(log.read_text(encoding="utf-8", errors="replace"))


def report(outcomes: list[Outcome], seconds: float) -> int:
    """Prints a line per lane and the Spark jobs of all; returns the suite's exit status."""
    print("\n### lanes", flush=True)
    for o in outcomes:
        verdict = "ok" if o.status == 0 else f"FAILED (pytest exit status {o.status})"
        print(f"{o.lane.name:<13} {verdict:<32} {o.tally:<45} {o.seconds:6.0f} s")
    in_sessions = sum(o.jobs[0] for o in outcomes)
    in_processes = sum(o.jobs[1] for o in outcomes)
    print(
        f"Spark jobs: {in_sessions + in_processes} ({in_sessions} in the tests' session JVMs, "
        f"{in_processes} in job processes)"
    )
    failed = [o.lane.name for o in outcomes if o.status != 0]
    print(f"suite: {'failed in lanes ' + ', '.join(failed) if failed else 'passed'} in {seconds:.0f} s", flush=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.suite", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clock-ahead-days",
        type=int,
        default=400,
        help="how far ahead the clock lane moves the tests' clock (default: 400)",
    )
    args, extra = parser.parse_known_args(argv)
    jvm, background, serial = lanes(args.clock_ahead_days)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ra-suite-") as tmp:
        beside: list[Outcome] = []
        thread = run_in_turn(background, Path(tmp), extra, beside)
        outcomes = [run_lane(lane, Path(tmp), extra, shown=True) for lane in jvm]
        thread.join()
        for o in beside:
            show_log(o)
        ran = {o.lane.name for o in beside}
        outcomes += beside + [
            Outcome(lane, 1, 0.0, "did not run", (0, 0)) for lane in background if lane.name not in ran
        ]
        outcomes += [run_lane(lane, Path(tmp), extra, shown=True) for lane in serial]
    return report(outcomes, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main())
