"""The aliases chat users taught: list them, and remove one for good.

    python -m jobs.aliases [--lake PATH] [--dt YYYY-MM-DD] list     # the learned aliases of the latest snapshot
    python -m jobs.aliases [--lake PATH] remove ALIAS [--artist ID] [--mart]

(the options every job takes, --config, --set, --lake, --dt, come before the command)

``remove`` takes the learned (``chat``) aliases whose key is ALIAS's (of one artist with ``--artist``)
out of the latest snapshot's ``artist_aliases``, and records them in the lake's ``alias_removals``:
every later ingest leaves them out of the aliases it carries forward, and never learns them again
from the same confirmations (``jobs.sources.learned_aliases``). The next publish stops serving them;
with ``--mart`` the live mart stops now (its ``artist_aliases`` rows, also those a rollback would
bring back, and the users' confirmations are deleted). Curated aliases are not removed here: edit
the ``--aliases-csv`` file.
"""

from __future__ import annotations

import datetime
import logging
import sys
from collections.abc import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common import schemas
from jobs.common.cli import base_parser, exit_status, setup_logging
from jobs.common.config import load_config, section, set_path
from jobs.common.errors import ConfigError
from jobs.common.lake import Lake, today_utc
from jobs.common.spark import start_spark
from jobs.settings import lake_path
from jobs.sources.aliases import REMOVALS
from shared.names import name_key

log = logging.getLogger("jobs.aliases")

REMOVAL_COLUMNS = "artist_id string, alias_key string, alias string, removed_at timestamp"
REMOVAL_FIELDS = ("artist_id", "alias_key", "alias", "removed_at")


def parse_args(argv: Sequence[str] | None):
    parser = base_parser(
        "List the aliases the ingest learned from chat users, or remove one for good.",
        __doc__,
        prog="python -m jobs.aliases",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the learned aliases of the latest snapshot (or --dt): artist id, name, alias")
    remove = commands.add_parser("remove", help="remove a learned alias from the lake (and with --mart, the mart)")
    remove.add_argument("alias", help="the alias, as typed (matched by name key)")
    remove.add_argument("--artist", metavar="ID", help="only the alias of this artist id")
    remove.add_argument(
        "--mart",
        action="store_true",
        help="also stop serving it now: delete it from the live mart (mart.url) and its confirmations",
    )
    return parser.parse_args(argv)


def learned(aliases: DataFrame, artists: DataFrame) -> DataFrame:
    """The learned (``chat``) aliases with their artist's name: artist_id, name, alias."""
    names = artists.select("artist_id", "name")
    return (
        aliases.where(F.col("source") == "chat")
        .join(names, "artist_id", "left")
        .select("artist_id", "name", "alias")
        .orderBy("alias", "artist_id")
    )


def list_learned(lake: Lake, dt: str | None) -> int:
    dt = dt or lake.latest_snapshot("artist_aliases")
    tables = lake.read_snapshot(dt, ["artist_aliases", "artists"])
    rows = learned(tables["artist_aliases"], tables["artists"]).collect()
    for row in rows:
        print(f"{row.artist_id}\t{row.name or ''}\t{row.alias}")
    log.info("dt=%s: %d learned aliases", dt, len(rows))
    return len(rows)


def remove(spark: SparkSession, lake: Lake, config: dict, alias: str, artist: str | None, mart: bool) -> list:
    """Remove the learned aliases with ``alias``'s key (of ``artist``); returns ``[(artist_id, alias)]``."""
    key = name_key(alias)
    if not key:
        raise ConfigError(f"{alias!r} has no letters or digits to match an alias by")
    dt = lake.latest_snapshot("artist_aliases")
    every = lake.read("artist_aliases", dt).select(*schemas.ARTIST_ALIASES.fieldNames()).collect()
    rows = [row for row in every if name_key(row.alias) == key and (artist is None or row.artist_id == artist)]
    found = [(row.artist_id, row.alias) for row in rows if row.source == "chat"]
    if not found:
        curated = ", ".join(sorted({f"{row.alias} -> {row.artist_id}" for row in rows}))
        raise ConfigError(
            f"no learned alias {alias!r}{f' of {artist}' if artist else ''} in dt={dt}"
            + (f" (curated: {curated}; edit the --aliases-csv file)" if curated else "")
        )
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    today = today_utc()
    removals = [(artist_id, key, text, now) for artist_id, text in found]
    if lake.exists(REMOVALS):  # the day's earlier removals stay: a write replaces the whole dt
        earlier = lake.spark.read.format("delta").load(lake.path(REMOVALS)).where(F.col("dt") == today)
        removals = [tuple(row) for row in earlier.select(*REMOVAL_FIELDS).collect()] + removals
    lake.write(schemas.local_frame(spark, removals, REMOVAL_COLUMNS), REMOVALS, today)
    gone = set(found)
    kept = [tuple(row) for row in every if (row.artist_id, row.alias) not in gone]
    lake.write(schemas.local_frame(spark, kept, schemas.ARTIST_ALIASES), "artist_aliases", dt)
    log.info(
        "removed %s from dt=%s and recorded in %s: later ingests neither carry nor learn them",
        ", ".join(f"{text!r} -> {artist_id}" for artist_id, text in found),
        dt,
        lake.path(REMOVALS),
    )
    if mart:
        _remove_from_mart(spark, config, key, [artist_id for artist_id, _ in found])
    return found


def _remove_from_mart(spark: SparkSession, config: dict, key: str, artist_ids: list[str]) -> None:
    from jobs.common.jdbc import MartConnection, MartTarget
    from mart import requests
    from mart.schema import PREVIOUS

    target = MartTarget.from_config(section(config, "mart"))
    with MartConnection(spark, target) as conn, conn.transaction():
        present = conn.tables()
        deleted = 0
        for artist_id in artist_ids:
            for table in ("artist_aliases", f"artist_aliases{PREVIOUS}"):
                if table in present:
                    deleted += conn.execute(
                        f"DELETE FROM {table} WHERE alias_key = ? AND artist_id = ?", (key, artist_id)
                    )
            if "alias_confirmations" in present:
                conn.execute(*requests.forget_confirmations_statement(key, artist_id))
    log.info("the mart at %s serves it no more (%d rows deleted)", target.shown_url, deleted)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)

    def job() -> None:
        config = load_config(args.config, args.overrides)
        if args.lake:
            set_path(config, "lake.path", args.lake)
        spark = start_spark(config, "aliases")
        lake = Lake(spark, lake_path(config))
        if args.command == "list":
            list_learned(lake, args.dt)
        else:
            remove(spark, lake, config, args.alias, args.artist, args.mart)

    return exit_status(job, log)


if __name__ == "__main__":
    sys.exit(main())
