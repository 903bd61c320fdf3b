"""Look into a mart without Spark, reading it the way the chatbot does.

    python -m mart [--url jdbc:sqlite:data/mart.db] [--show N] [NAME ...]
    python -m mart --url ... --migrate        # bring a mart of schema version 1, 2 or 3 to version 4 in place

Prints N popular artists with their top tracks and related artists, or the cards
for each NAME typed (any case or spacing, or an alias). An SQLite mart is opened
read-only (a missing file is an error, never created). For MySQL, the user is
--user and the password is read from $MART_PASSWORD (either one, when not given,
is taken from the URL if it carries it); --ssl-ca turns TLS on. The URL is only
ever printed masked. --migrate changes the mart (every row kept; see
mart/migrate.py); the publish job does it too, under its lock.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from mart import serving
from mart.schema import SCHEMA_VERSION
from mart.url import MartUrl, MartUrlError, mask
from shared.version import program_parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = program_parser("python -m mart", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="artist names to look up")
    parser.add_argument("--url", default="jdbc:sqlite:data/mart.db", help="mart JDBC URL (default: %(default)s)")
    parser.add_argument("--user", default="", help="MySQL user (password from $MART_PASSWORD)")
    parser.add_argument(
        "--ssl-ca",
        default=os.environ.get("MART_SSL_CA", ""),
        metavar="FILE",
        help="MySQL over TLS, the server verified against this CA bundle (default $MART_SSL_CA)",
    )
    parser.add_argument("--show", type=int, default=5, metavar="N", help="popular artists to print (default 5)")
    parser.add_argument(
        "--migrate",
        action="store_true",
        help="bring a mart of schema version 1, 2 or 3 to version 4 in place, then exit",
    )
    args = parser.parse_args(argv)
    try:
        args.url = MartUrl.parse(args.url)
    except MartUrlError as exc:
        print(f"python -m mart: {exc}", file=sys.stderr)
        return 2
    if args.migrate:
        return migrate_mart(args)
    try:
        conn = serving.connect(
            args.url, args.user, os.environ.get("MART_PASSWORD", ""), readonly=True, ssl_ca=args.ssl_ca
        )
        try:
            if not args.names:
                lines = serving.describe_popular(conn, args.show)
                print("\n".join(lines) if lines else "the mart has no related artists yet")
            for name in args.names:
                cards = serving.find_artist(conn, name)
                if not cards:
                    print(f"{name!r}: not in the mart")
                for card in cards:
                    role = "artist " if card.distance is None else f"  {card.distance:.3f} ({card.reason})"
                    print(f"{role} {card.name}: " + ", ".join(track.name for track in card.tracks))
        finally:
            conn.close()
    except Exception as exc:  # a missing file, a refused connection: one line, not a traceback
        print(f"python -m mart: cannot read the mart at {args.url}: {mask(str(exc))}", file=sys.stderr)
        return 2
    return 0


def migrate_mart(args) -> int:
    from mart import migrate

    if args.url.sqlite_file is not None and not os.path.isfile(args.url.sqlite_file):
        print(f"python -m mart: no mart at {args.url}: nothing to migrate", file=sys.stderr)
        return 2
    try:
        conn = serving.connect(
            args.url, args.user, os.environ.get("MART_PASSWORD", ""), timeout=600, create=False, ssl_ca=args.ssl_ca
        )
        try:
            version = migrate.detect_version(conn)
            if version == 0:
                print(f"python -m mart: no mart at {args.url}: nothing to migrate", file=sys.stderr)
                return 2
            steps = migrate.migrate(conn)
        finally:
            conn.close()
    except Exception as exc:  # a refused connection, missing privileges: one line, not a traceback
        print(f"python -m mart: cannot migrate the mart at {args.url}: {mask(str(exc))}", file=sys.stderr)
        return 2
    print(f"schema version {version} -> {SCHEMA_VERSION}: " + ("; ".join(steps) if steps else "nothing to do"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
