"""Command-line pieces shared by the job entry points."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from jobs.common.config import DEFAULT_CONFIG
from jobs.common.errors import ConfigError, MartError, SnapshotError
from jobs.common.lake import parse_dt
from shared.version import program_parser

# Exit statuses of every job: bad settings and missing or empty input are the user's to fix.
EXIT_OK, EXIT_USAGE = 0, 2


def base_parser(description: str, epilog: str = "", *, prog: str) -> argparse.ArgumentParser:
    """A parser with the options every job takes: version, config file, overrides, lake, dt, log level.

    ``prog`` is the command the docs run the job with (``python jobs/ingest.py``, ``python -m jobs.pipeline``),
    the same whether it runs so, as ``python -m`` or under spark-submit (EMR runs the scripts by path).
    """
    parser = program_parser(
        prog, description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config",
        default=str(DEFAULT_CONFIG),
        metavar="FILE",
        help="TOML config file, one per environment (default: conf/local.toml; conf/emr.toml on EMR)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config value, e.g. --set similarity.k=5 or "
        "--set 'spark.conf.\"spark.driver.memory\"=8g'; repeatable",
    )
    parser.add_argument(
        "--lake", metavar="PATH", help="lake root (local folder, s3://bucket/prefix or s3a://...); overrides lake.path"
    )
    parser.add_argument("--dt", metavar="YYYY-MM-DD", type=_snapshot_date, help="snapshot date (UTC)")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level of the job's own messages (default: INFO)",
    )
    return parser


def _snapshot_date(text: str) -> str:
    try:
        return parse_dt(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def setup_logging(level: str) -> None:
    """The job's log on stderr from ``level`` up. Once a local Spark start keeps the full log in a file
    (jobs.common.spark), the INFO details of the helper modules go only there (jobs.common.progress)."""
    from jobs.common.progress import ConsoleDetails

    console = logging.StreamHandler(sys.stderr)
    console.addFilter(ConsoleDetails())
    logging.basicConfig(
        handlers=[console],
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)


def exit_status(action: Callable[[], object], log: logging.Logger) -> int:
    """Run ``action``; a config, snapshot or mart problem is logged as one line and gives exit status 2.

    Anything else propagates with its traceback (exit status 1).
    """
    try:
        action()
    except (ConfigError, SnapshotError, MartError) as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    return EXIT_OK
