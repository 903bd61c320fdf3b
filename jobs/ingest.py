"""Ingest job: a source's artists, top tracks and audio features into one lake snapshot.

    python jobs/ingest.py --source synthetic [--artists N] [--seed S] [--dt YYYY-MM-DD]

Writes the lake tables ``artists``, ``top_tracks`` and ``audio_features`` for
one dt (default: today, UTC). Re-running for the same dt replaces that dt's
rows; other dts are never touched.
"""

from __future__ import annotations

import logging
import sys
from typing import Mapping, Sequence

from pyspark.sql import SparkSession

from jobs.common.cli import base_parser, exit_status, setup_logging
from jobs.common.config import ConfigError, load_config, section, set_path
from jobs.common.lake import Lake, today_utc
from jobs.common.spark import start_spark
from jobs.common.timing import stage
from jobs.sources.synthetic import SyntheticSpec, generate

log = logging.getLogger("jobs.ingest")

SOURCES = ("synthetic",)

EPILOG = """\
sources:
  synthetic   artists in genre-like clusters, ~10 top tracks each, with audio features; deterministic for
              a seed (config section [synthetic]: artists, seed, genres, max_tracks, missing_features)

examples:
  python jobs/ingest.py --source synthetic --artists 20000
  python jobs/ingest.py --source synthetic --artists 1000000 --dt 2026-11-27 --lake /data/lake

exit status: 0 done, 2 bad settings, 1 anything else.
"""


def parse_args(argv: Sequence[str] | None):
    parser = base_parser(__doc__.split("\n\n")[0], EPILOG)
    parser.add_argument("--source", choices=SOURCES, help="where the data comes from (overrides ingest.source)")
    parser.add_argument("--artists", type=int, help="synthetic: number of artists (overrides synthetic.artists)")
    parser.add_argument("--seed", type=int, help="synthetic: random seed (overrides synthetic.seed)")
    return parser.parse_args(argv)


def synthetic_spec(config: Mapping) -> SyntheticSpec:
    options = section(config, "synthetic")
    try:
        return SyntheticSpec(**options)
    except TypeError as exc:
        raise ConfigError(f"[synthetic] has an unknown setting: {exc}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def run(spark: SparkSession, config: Mapping, dt: str) -> dict[str, int]:
    """Ingest one snapshot from the configured source; returns rows written per table."""
    source = section(config, "ingest").get("source", "synthetic")
    if source not in SOURCES:
        raise ConfigError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
    lake = Lake(spark, section(config, "lake").get("path", ""))
    spec = synthetic_spec(config)
    log.info("ingest dt=%s from %s: %s into %s", dt, source, spec, lake.root)
    written = {}
    for table, frame in generate(spark, spec).items():
        with stage(log, f"write {table}"):
            written[table] = lake.write(frame, table, dt)
    log.info("ingest dt=%s done: %s", dt, ", ".join(f"{t} {n} rows" for t, n in written.items()))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)

    def job() -> None:
        config = load_config(args.config, args.overrides)
        for key, value in {"lake.path": args.lake, "ingest.source": args.source,
                           "synthetic.artists": args.artists, "synthetic.seed": args.seed}.items():
            if value is not None:
                set_path(config, key, value)
        run(start_spark(config, "ingest"), config, args.dt or today_utc())

    return exit_status(job, log)


if __name__ == "__main__":
    sys.exit(main())
