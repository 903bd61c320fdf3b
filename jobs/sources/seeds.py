"""The artists a Spotify ingest wants before any chatbot request: the seeds and the lake's own artists."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from jobs.common.errors import ConfigError
from jobs.common.lake import Lake
from jobs.sources.spotify import SPOTIFY_ID

log = logging.getLogger("jobs.ingest")  # the ingest job's log, where this step always logged


def wanted_artists(
    seeds: Sequence[str], seeds_file: str | None, refresh: bool, lake: Lake
) -> tuple[list[str], dict[str, str]]:
    """``(artist ids, {name: "seed"})`` to ingest before any request: ``ingest.seeds``, the lines of
    ``ingest.seeds_file`` (ids or names), and with ``refresh`` the artists of the lake's latest dt."""
    ids, names = [], {}
    for seed in seeds:
        if SPOTIFY_ID.match(str(seed)):
            ids.append(str(seed))
        else:
            names.setdefault(str(seed), "seed")
    if seeds_file:
        try:
            with open(seeds_file, encoding="utf-8") as lines:
                for line in map(str.strip, lines):
                    if SPOTIFY_ID.match(line):
                        ids.append(line)
                    elif line:
                        names.setdefault(line, "seed")
        except OSError as exc:
            raise ConfigError(f"ingest.seeds_file: {exc}") from None
    if refresh:
        found = lake.snapshots("artists")
        if found:
            known = [row.artist_id for row in lake.read("artists", found[-1]).select("artist_id").collect()]
            log.info("refresh: %d artists of the lake's dt=%s", len(known), found[-1])
            ids.extend(known)
    return ids, names
