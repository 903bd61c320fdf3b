"""Aliases chat users taught, and which of them the ingest may learn.

A chat user's tap on "네, 맞아요" under an alias offer (``아이유`` -> IU) is only a confirmation, kept
in the mart's ``alias_confirmations`` once per verified user (``mart.requests.confirm``). The Spotify
ingest with ``--requests`` learns an alias (writes it to the lake's ``artist_aliases`` with source
``chat``) only when all of these hold:

- at least ``ingest.alias_min_users`` distinct verified users confirmed it (default 3);
- it holds no request words (``BLACKPINK 노래`` is a request about BLACKPINK, never its name:
  ``shared.request_words``);
- it was not removed by hand (``python -m jobs.aliases remove``: the lake's ``alias_removals``);
- a fresh Spotify search for the typed text returns that artist among its first
  ``ingest.alias_search_results`` results;
- its key is not another artist's name or alias key, and no curated alias has it
  (``jobs.sources.aliases.choose_aliases``, when the snapshot's aliases are put together).

Each alias not learned is logged with the reason; its confirmations stay, to be weighed again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import SparkSession

from jobs.sources.spotify import SpotifyCatalog, SpotifyError
from shared.names import name_key
from shared.request_words import request_words_in

if TYPE_CHECKING:
    from jobs.common.jdbc import MartTarget

log = logging.getLogger(__name__)

MAX_CANDIDATES = 200  # aliases weighed per run, most confirmed first


@dataclass(frozen=True)
class Candidate:
    alias_key: str
    artist_id: str
    typed: str
    users: int


def take_candidates(spark: SparkSession, target: MartTarget, min_users: int) -> list[Candidate]:
    """The aliases confirmed by at least ``min_users`` distinct users, most confirmed first (none when
    the mart has no ``alias_confirmations`` yet: a mart of schema version 2)."""
    from jobs.common.jdbc import MartConnection
    from mart import requests

    with MartConnection(spark, target) as conn:
        if "alias_confirmations" not in conn.tables():
            log.info("aliases: the mart has no alias_confirmations yet (schema version 3); none learned")
            return []
        sql, params = requests.alias_candidates_statement(min_users, MAX_CANDIDATES)
        found = [
            Candidate(str(key), str(artist), str(typed), int(users))
            for key, artist, typed, users in conn.query(sql, params)
        ]
    log.info("aliases: %d confirmed by at least %d users (ingest.alias_min_users)", len(found), min_users)
    return found


def screen(candidates: Iterable[Candidate], removed: set[tuple[str, str]]) -> list[Candidate]:
    """The candidates without request words and not removed by hand; each one left out is logged."""
    kept = []
    for candidate in candidates:
        words = request_words_in(candidate.typed)
        if words:
            log.warning(
                "aliases: not learning %r -> %s: it holds request words (%s)",
                candidate.typed,
                candidate.artist_id,
                ", ".join(words),
            )
        elif (candidate.artist_id, candidate.alias_key) in removed or ("*", candidate.alias_key) in removed:
            log.info("aliases: not learning %r -> %s: removed by hand", candidate.typed, candidate.artist_id)
        elif name_key(candidate.typed) != candidate.alias_key:
            log.warning("aliases: not learning %r: its key is not %r", candidate.typed, candidate.alias_key)
        else:
            kept.append(candidate)
    return kept


def confirmed_by_search(catalog: SpotifyCatalog, candidates: list[Candidate], results: int) -> list[Candidate]:
    """The candidates whose typed text, searched afresh, returns their artist among the first ``results``
    artists. A SpotifyError stops the searches: the candidates not searched wait for the next run."""
    kept = []
    for done, candidate in enumerate(candidates):
        try:
            found = catalog.search_artist_ids(candidate.typed, results)
        except SpotifyError as exc:
            log.warning(
                "aliases: Spotify stopped the searches after %d of %d (%s); the rest wait for the next run",
                done,
                len(candidates),
                str(exc).split(". ")[0],
            )
            break
        if candidate.artist_id in found:
            kept.append(candidate)
        else:
            log.warning(
                "aliases: not learning %r -> %s: a search for it does not return that artist among its first %d",
                candidate.typed,
                candidate.artist_id,
                results,
            )
    return kept
