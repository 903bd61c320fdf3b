"""Look into a mart without Spark, reading it the way the chatbot does.

    python -m mart [--url jdbc:sqlite:data/mart.db] [--show N] [NAME ...]

Prints N popular artists with their top tracks and related artists, or the cards
for each NAME typed (any case or spacing, or an alias). For MySQL, the user is
--user and the password is read from $MART_PASSWORD.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from mart import serving


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mart", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="artist names to look up")
    parser.add_argument("--url", default="jdbc:sqlite:data/mart.db", help="mart JDBC URL (default: %(default)s)")
    parser.add_argument("--user", default="", help="MySQL user (password from $MART_PASSWORD)")
    parser.add_argument("--show", type=int, default=5, metavar="N", help="popular artists to print (default 5)")
    args = parser.parse_args(argv)
    try:
        conn = serving.connect(args.url, args.user, os.environ.get("MART_PASSWORD", ""), readonly=True)
        try:
            if not args.names:
                lines = serving.describe_popular(conn, args.show)
                print("\n".join(lines) if lines else "the mart has no related artists yet")
            for name in args.names:
                cards = serving.find_artist(conn, name)
                if not cards:
                    print(f"{name!r}: not in the mart")
                for card in cards:
                    role = "artist " if card.distance is None else f"  {card.distance:.3f}"
                    print(f"{role} {card.name}: " + ", ".join(track.name for track in card.tracks))
        finally:
            conn.close()
    except Exception as exc:  # a missing file, a refused connection: one line, not a traceback
        print(f"python -m mart: cannot read the mart at {args.url.split('?')[0]}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
