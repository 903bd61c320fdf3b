"""The project's version, and the argument parser every program starts from (``--version`` included).

The version is the installed distribution's (``related-artists``, setup.py), read once, on the first
``--version``. Where the project is not installed (the Lambda zip, the EMR code package's ``jobs.zip``) it
is :data:`UNKNOWN`.
"""

from __future__ import annotations

import argparse
import functools
import sys

DISTRIBUTION = "related-artists"
UNKNOWN = "0+unknown"  # a PEP 440 version that sorts below every release: "not installed"


@functools.cache
def installed_version() -> str | None:
    """The installed distribution's version, or None when it is not installed."""
    from importlib import metadata  # here: a program pays for it only when it asks for the version

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def version() -> str:
    """The installed distribution's version, or :data:`UNKNOWN`."""
    return installed_version() or UNKNOWN


class _VersionAction(argparse.Action):
    """``--version``: prints ``<prog> <version>`` to stdout and exits 0."""

    def __init__(
        self,
        option_strings,
        dest=argparse.SUPPRESS,
        default=argparse.SUPPRESS,
        help="print the program's name and version, then exit",
    ):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(f"{parser.prog} {version()}\n")
        sys.stdout.flush()
        parser.exit(0)


def program_parser(prog: str, **options) -> argparse.ArgumentParser:
    """An ArgumentParser named ``prog``, the command the docs run it with (``python -m mart``,
    ``python jobs/ingest.py``): the usage line shows it whichever way it was started. It takes
    ``--version``; ``options`` are ArgumentParser's."""
    parser = argparse.ArgumentParser(prog=prog, **options)
    parser.add_argument("--version", action=_VersionAction)
    return parser
