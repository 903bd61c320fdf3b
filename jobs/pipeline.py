"""Pipeline: one batch for a dt, in the order the EMR steps run it: ingest, then similarity (which publishes).

    python -m jobs.pipeline [--dt YYYY-MM-DD] [--config FILE] [--set SECTION.KEY=VALUE] [--lake PATH]
                            [--mart JDBC_URL] [--ingest-args "ARGS"] [--similarity-args "ARGS"]

Both jobs run in this process, on one SparkSession, with the same dt (default: today, UTC, fixed once
at the start), config file, overrides and lake. ``--ingest-args`` and ``--similarity-args`` are added to
that job's command line (quoted as in a shell; see ``jobs/ingest.py --help`` and ``jobs/similarity.py
--help``); both are checked before anything runs. The pipeline stops at the first step that fails,
names it, and exits with that step's status.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
from collections.abc import Callable, Sequence

from jobs import ingest, similarity
from jobs.common.cli import base_parser, setup_logging
from jobs.common.lake import today_utc

log = logging.getLogger("jobs.pipeline")

# Each step: its name, the job's argument parser (to check the arguments first) and its main().
STEPS: tuple[tuple[str, Callable, Callable[[Sequence[str]], int]], ...] = (
    ("ingest", ingest.parse_args, ingest.main),
    ("similarity", similarity.parse_args, similarity.main),
)

EPILOG = """\
examples:
  python -m jobs.pipeline --dt 2026-11-27 --ingest-args "--source synthetic --artists 20000"
  python -m jobs.pipeline --mart jdbc:mysql://127.0.0.1:3306/mart --set mart.user=batch   # MART_PASSWORD
  python -m jobs.pipeline --ingest-args "--source spotify --refresh --requests" --similarity-args "--k 5"
  make pipeline DT=2026-11-27 ARTISTS=5000

exit status: 0 both steps done; otherwise the status of the step that failed (2 bad settings or input,
3 the Spotify API stopped ingest, 1 anything else). The log names the step; later steps are not run.
"""


def parse_args(argv: Sequence[str] | None):
    parser = base_parser(__doc__.split("\n\n")[0], EPILOG, prog="python -m jobs.pipeline")
    parser.add_argument("--mart", metavar="JDBC_URL", help="the mart both jobs use (overrides mart.url)")
    for name, _, _ in STEPS:
        parser.add_argument(
            f"--{name}-args",
            default="",
            metavar="ARGS",
            help=f"more arguments for {name}, quoted as in a shell (see jobs/{name}.py --help)",
        )
    args = parser.parse_args(argv)
    try:
        args.extra = {name: shlex.split(getattr(args, f"{name}_args")) for name, _, _ in STEPS}
    except ValueError as exc:
        parser.error(f"cannot split the job arguments: {exc}")
    return args


def step_arguments(args, dt: str) -> dict[str, list[str]]:
    """Each job's command line: the options both share, then the job's own."""
    common = ["--config", args.config, "--dt", dt, "--log-level", args.log_level]
    for override in args.overrides:
        common += ["--set", override]
    if args.mart:
        common += ["--set", f"mart.url={json.dumps(args.mart)}"]  # a TOML string, whatever the URL holds
    if args.lake:
        common += ["--lake", args.lake]
    return {name: common + args.extra[name] for name, _, _ in STEPS}


def run(arguments: dict[str, list[str]], dt: str) -> int:
    """Run the steps in order; the first non-zero status stops the pipeline and is returned."""
    for position, (name, _, main) in enumerate(STEPS):
        log.info("pipeline dt=%s: step %d of %d, %s", dt, position + 1, len(STEPS), name)
        try:
            status = main(arguments[name])
        except SystemExit as exc:  # a job that exits by itself (argparse) still ends the pipeline here
            status = exc.code if isinstance(exc.code, int) else 1
        except Exception:
            log.exception("pipeline dt=%s: step %s raised an error", dt, name)
            status = 1
        if status:
            skipped = [later for later, _, _ in STEPS[position + 1 :]]
            log.error(
                "pipeline dt=%s stopped: step %s failed with exit status %d%s",
                dt,
                name,
                status,
                f"; not run: {', '.join(skipped)}" if skipped else "",
            )
            return status
    log.info("pipeline dt=%s done: %s", dt, ", ".join(name for name, _, _ in STEPS))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)
    dt = args.dt or today_utc()
    arguments = step_arguments(args, dt)
    for name, parse, _ in STEPS:  # a typo in the last step's arguments fails now, not after the first step
        try:
            parse(arguments[name])
        except SystemExit as exc:
            log.error("pipeline dt=%s: the arguments of step %s are not valid (see above); nothing was run", dt, name)
            return exc.code if isinstance(exc.code, int) else 2
    return run(arguments, dt)


if __name__ == "__main__":
    sys.exit(main())
