"""Mart job: publish a lake snapshot to the serving mart, roll back the last publish, or show the mart.

    python jobs/publish_mart.py publish [--dt YYYY-MM-DD] [--force]
    python jobs/publish_mart.py rollback
    python jobs/publish_mart.py status [--show N]

``publish`` sends the lake's artists, aliases, top tracks and related_artists of
one dt (default: the latest with related artists) to the mart named by mart.url,
through staging tables, checks and one atomic swap. The similarity job does the
same at its end; this command re-publishes without recomputing. Its checks expect
min(k, n - 1) related rows for each of the n artists of the lake's related_artists
(k: similarity.k, the setting the similarity job used; "artists with a vector" are
the related set's own artists here). A publish or rollback holds a mart-wide lock:
a second one started meanwhile is refused at once (exit 2). Of ``[similarity]``
only k is read and checked (``MartJobSettings``): a bad similarity setting that a
publish does not use never makes it fail. Each related row carries why it was chosen
(``reason``: sound, listeners or both; sound for a snapshot written before the
column); any other value fails the checks. A mart of an older schema version is
migrated in place first, every row kept (``mart/migrate.py``).

``status`` only reads: on a database without a mart it says so and creates nothing.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from jobs.common.cli import base_parser, exit_status, setup_logging
from jobs.common.config import load_config, set_path
from jobs.common.lake import Lake
from jobs.common.spark import start_spark
from jobs.publish.mart import Mart
from jobs.publish.snapshot import publish_snapshot
from jobs.settings import DEFAULT_K, MartJobSettings

log = logging.getLogger("jobs.publish_mart")

EPILOG = f"""\
settings (config section [mart]):
  url                jdbc:sqlite:data/mart.db (default) or jdbc:mysql://host:3306/mart
  user               database user (MySQL)
  password_env       environment variable holding the password (default MART_PASSWORD)
  tracks_per_artist  top tracks published per artist (default 3)
  max_drop           refuse a publish whose artists, top tracks or related rows fall below
                     (1 - max_drop) of the live ones (default 0.5); --force overrides
  batch_size, write_partitions   JDBC batch rows, parallel writers (MySQL)
  lock_wait_seconds, lock_attempts   each try of the swap waits at most this long for readers' locks
                     (default 0.25 s; lookups queue behind it meanwhile), this many times (default 16),
                     pausing 0.5 s between tries; MySQL (not MariaDB) waits whole seconds, at least 1
  lookup_budget_seconds   the chatbot's statement budget, its DB_TIMEOUT_SECONDS (default 1.0):
                     lock_wait_seconds must be more than 0 and at most half of it
  similarity.k       related artists per artist the checks expect (default {DEFAULT_K})

examples:
  python jobs/publish_mart.py publish --dt 2026-11-27
  MART_PASSWORD=... python jobs/publish_mart.py publish --mart jdbc:mysql://db:3306/mart --set mart.user=batch
  python jobs/publish_mart.py rollback
  python jobs/publish_mart.py status --show 5

exit status: 0 done, 2 bad settings, unreachable mart, no mart (status), another publish or rollback
running, refused, failed checks, a lost publish lock, or a database or Spark error in a publish step
(the live set is unchanged unless the message says the new set IS live), 1 anything else.
"""


def parse_args(argv: Sequence[str] | None):
    parser = base_parser(__doc__.split("\n\n")[0], EPILOG, prog="python jobs/publish_mart.py")
    parser.add_argument(
        "action",
        nargs="?",
        default="publish",
        choices=("publish", "rollback", "status"),
        help="what to do (default: publish)",
    )
    parser.add_argument("--mart", metavar="JDBC_URL", help="mart JDBC URL (overrides mart.url)")
    parser.add_argument("--force", action="store_true", help="publish (or roll back) even when the drop guard refuses")
    parser.add_argument(
        "--show",
        type=int,
        default=0,
        metavar="N",
        help="status: also print N popular artists with their related artists",
    )
    return parser.parse_args(argv)


def settings_from_args(args) -> tuple[dict, MartJobSettings]:
    config = load_config(args.config, args.overrides)
    for key, value in {"lake.path": args.lake, "mart.url": args.mart}.items():
        if value:
            set_path(config, key, value)
    return config, MartJobSettings.from_config(config, args.action)


def print_status(mart: Mart, show: int) -> None:
    """Row counts of the live and previous sets, the latest log rows, and ``show`` artists."""
    print(f"mart {mart.target.shown_url}")
    for label, counts in (("live", mart.counts()), ("previous", mart.counts("__previous"))):
        print(f"  {label:9}" + "  ".join(f"{t} {c:,}" if c >= 0 else f"{t} -" for t, c in counts.items()))
    for run_id, action, dt, at, artists, _aliases, _tracks, related, forced in mart.history():
        print(
            f"  {at}  {action:8} dt={dt}  artists {artists:,}  related {related:,}"
            f"{'  forced' if forced else ''}  ({run_id})"
        )
    if show:
        from mart import serving

        conn = serving.connect(mart.target.url, mart.target.user, mart.target.password, readonly=True)
        try:
            print("\n".join(serving.describe_popular(conn, show)))
        finally:
            conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)

    def job() -> None:
        config, settings = settings_from_args(args)
        spark = start_spark(config, f"mart {args.action}")
        with Mart(spark, settings.mart, readonly=args.action == "status") as mart:
            if args.action == "rollback":
                mart.rollback(force=args.force)
            elif args.action == "status":
                print_status(mart, args.show)
            else:
                lake = Lake.from_settings(spark, settings)
                dt = args.dt or lake.latest_snapshot("related_artists")
                publish_snapshot(mart, lake, dt, force=args.force, k=settings.k)

    return exit_status(job, log)


if __name__ == "__main__":
    sys.exit(main())
