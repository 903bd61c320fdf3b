"""One run of a job as a user runs it, with its wall time and peak memory split by process.

    python -m bench.job -- jobs/similarity.py --lake /data/lake-10m --dt 2026-01-01 --no-publish \
        --set 'spark.conf."spark.driver.memory"=8g'

Runs ``python <arguments>`` in a child process and samples its process tree every 0.5 s. Prints the wall
time, the exit status, and the peak resident memory of: the Python driver (the job's own process), the JVM
(in local mode the Spark driver and its executors are one JVM), the Python workers (the processes that run
the search's tasks, summed) and the whole tree (summed at each sample). With ``--json FILE`` the figures
are also written there. The job's own output goes to the terminal as usual.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from shared.version import program_parser

REPO = Path(__file__).resolve().parents[1]


def kind(process) -> str:
    """``jvm``, ``python workers`` or ``other`` for one descendant of the job's process."""
    name = process.name()
    if name == "java":
        return "jvm"
    if name.startswith("python"):
        return "python workers"
    return "other"


class TreePeaks:
    """Peak resident memory (bytes) of a process and of its descendants by :func:`kind`, sampled."""

    def __init__(self, pid: int, every: float = 0.5):
        import psutil

        self.root = psutil.Process(pid)
        self.every = every
        self.peaks = {"python driver": 0, "jvm": 0, "python workers": 0, "other": 0, "tree": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        import psutil

        while not self._stop.wait(self.every):
            now = {key: 0 for key in self.peaks}
            try:
                now["python driver"] = self.root.memory_info().rss
                children = self.root.children(recursive=True)
            except psutil.Error:
                continue
            for child in children:
                try:
                    now[kind(child)] += child.memory_info().rss
                except psutil.Error:
                    pass
            now["tree"] = sum(value for key, value in now.items() if key != "tree")
            for key, value in now.items():
                self.peaks[key] = max(self.peaks[key], value)


def main(argv=None) -> int:
    parser = program_parser(
        "python -m bench.job",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, help="the script and its arguments, after --, run with this Python"
    )
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the job to run after --, e.g. -- jobs/similarity.py --no-publish")
    start = time.monotonic()
    child = subprocess.Popen([sys.executable, *command], cwd=REPO)
    with TreePeaks(child.pid) as peaks:
        status = child.wait()
    wall = time.monotonic() - start
    gib = {key: round(value / 2**30, 2) for key, value in peaks.peaks.items()}
    figures = {"command": command, "exit_status": status, "wall_s": round(wall, 1), "peak_rss_gib": gib}
    print(
        f"# {' '.join(command)}: exit {status}, {wall:.1f} s; peak resident memory (GiB): "
        + ", ".join(f"{key} {value:.2f}" for key, value in gib.items()),
        flush=True,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
