"""Other spellings of artist names (``artist_aliases`` in the lake: artist_id, alias, source).

Three sources, written with each ingested snapshot:

- ``previous``: the aliases of the lake's latest snapshot up to this dt, carried forward, so that
  what was learned once is served by every later publish (until removed by hand:
  ``python -m jobs.aliases``);
- ``curated``: a CSV file of ``artist,alias`` rows (``--aliases-csv``), where ``artist`` is an
  artist id or the artist's name as in the snapshot (matched by name key);
- ``chat``: names chat users confirmed for an artist, learned by the Spotify ingest only when
  earned (``jobs.sources.learned_aliases``), and never over a curated alias, another artist's
  name, or an alias removed by hand (:func:`choose_aliases`).

The publish job keeps an alias only for an artist of the snapshot it publishes, and drops one
equal to the artist's own name key (``jobs.publish.frames.mart_artist_aliases``).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common import schemas
from jobs.common.errors import ConfigError
from jobs.common.lake import Lake
from jobs.common.names_udf import name_key_udf
from shared.names import name_key
from shared.request_words import request_words_in

log = logging.getLogger(__name__)

MAX_ALIAS = 200


def read_aliases_csv(path: str) -> list[tuple[str, str]]:
    """``(artist id or name, alias)`` rows of a curated CSV (a header row ``artist,alias`` is optional).

    Blank rows and rows without both values are skipped; values are trimmed and aliases cut at
    ``MAX_ALIAS`` characters.
    """
    rows = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as lines:
            for number, row in enumerate(csv.reader(lines), 1):
                values = [value.strip() for value in row[:2]]
                if number == 1 and [v.lower() for v in values] in (
                    ["artist", "alias"],
                    ["artist_id", "alias"],
                    ["name", "alias"],
                ):
                    continue
                if len(values) == 2 and all(values):
                    rows.append((values[0], values[1][:MAX_ALIAS]))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"--aliases-csv {path}: {exc}") from None
    return rows


def curated_aliases(spark: SparkSession, rows: list[tuple[str, str]], artists: DataFrame) -> DataFrame:
    """Curated ``(artist, alias)`` rows as lake rows: ``artist`` is an id of ``artists``, else matched by
    name key to their names. Rows matching no artist are left out, counted and logged."""
    refs = schemas.local_frame(spark, rows, "ref string, alias string")
    ids = artists.select("artist_id").distinct()
    by_id = refs.join(ids, refs.ref == ids.artist_id).select("ref", "artist_id", "alias")
    named = artists.select("artist_id", name_key_udf("name").alias("key")).distinct()
    by_name = (
        refs.join(by_id.select("ref"), "ref", "left_anti")
        .withColumn("key", name_key_udf("ref"))
        .join(named, "key")
        .select("ref", "artist_id", "alias")
    )
    matched = by_id.unionByName(by_name).cache()
    found = {row.ref for row in matched.select("ref").distinct().collect()}
    missing = sorted({ref for ref, _ in rows} - found)
    if missing:
        log.warning(
            "--aliases-csv: %d artists match no artist id or name of the snapshot and are skipped: %s%s",
            len(missing),
            ", ".join(missing[:5]),
            ", ..." if len(missing) > 5 else "",
        )
    log.info("--aliases-csv: %d aliases of %d artists", matched.count(), len(found))
    return matched.select("artist_id", "alias", F.lit("curated").alias("source"))


def chat_aliases(requested: Iterable[tuple[str, str | None]], artists: list[tuple]) -> list[tuple[str, str, str]]:
    """Lake rows ``(artist_id, alias, "chat")`` for requests ``(typed name, spotify id)`` whose artist was
    fetched (``artists``: lake rows, id and name first) under another name than what was typed."""
    names = {row[0]: row[1] for row in artists}
    rows = []
    for typed, artist_id in requested:
        if artist_id in names and name_key(typed) and name_key(typed) != name_key(names[artist_id]):
            rows.append((artist_id, typed[:MAX_ALIAS], "chat"))
    return list(dict.fromkeys(rows))


REMOVALS = "alias_removals"  # lake table: aliases removed by hand (artist_id, alias_key, alias, removed_at)


def removed_aliases(lake: Lake) -> set[tuple[str, str]]:
    """``(artist_id, alias key)`` of every alias removed by hand (``python -m jobs.aliases remove``)."""
    if not lake.exists(REMOVALS):
        return set()
    rows = lake.spark.read.format("delta").load(lake.path(REMOVALS)).select("artist_id", "alias_key").collect()
    return {(row.artist_id, row.alias_key) for row in rows}


def choose_aliases(
    rows: Iterable[tuple], removed: set[tuple[str, str]], named: dict[str, set[str]]
) -> list[tuple[str, str, str]]:
    """The aliases a snapshot keeps, from rows ``(artist_id, alias, source, key, fresh)`` (``fresh``: not
    carried from the previous snapshot); ``named``: alias key -> ids of the snapshot's artists whose
    name has that key (at least for the keys of chat aliases).

    Curated aliases always stay. A chat alias is dropped when it was removed by hand, when it holds
    request words (one learned before they were refused: ``BLACKPINK 노래``), when a curated
    alias has its key, when its key is another artist's name, or when its key already names another
    artist (an alias carried forward wins over a fresh one; fresh ones of several artists all go).
    Each (artist, key) once; every chat alias dropped is logged with the reason."""
    rows = [row for row in rows if row[0] and row[1] and row[3]]
    by_key: dict[str, list[tuple]] = {}
    for row in rows:
        by_key.setdefault(row[3], []).append(row)
    kept: dict[tuple[str, str], tuple[str, str, str]] = {}
    for key, group in by_key.items():
        curated = [row for row in group if row[2] != "chat"]
        chat = [row for row in group if row[2] == "chat"]
        for row in curated:
            kept.setdefault((row[0], key), (row[0], row[1], row[2]))
        carried = {row[0] for row in chat if not row[4] and (row[0], key) not in removed}
        for row in chat:
            artist_id = row[0]
            why = None
            if (artist_id, key) in removed:
                why = "removed by hand"
            elif request_words_in(row[1]):
                why = "it holds request words"
            elif any(c[0] != artist_id for c in curated):
                why = "a curated alias has its key"
            elif named.get(key, set()) - {artist_id}:
                why = "it is another artist's name"
            elif carried - {artist_id} or (row[4] and not carried and {c[0] for c in chat if c[4]} - {artist_id}):
                why = "its key names another artist already"
            if why is None:
                kept.setdefault((artist_id, key), (artist_id, row[1], "chat"))
            else:
                log.warning("aliases: dropped the chat alias %r -> %s: %s", row[1], artist_id, why)
    return list(kept.values())


def snapshot_aliases(
    spark: SparkSession, lake: Lake, dt: str, *new: DataFrame, artists: DataFrame | None = None
) -> DataFrame | None:
    """The aliases to write with snapshot ``dt``: those of the latest snapshot up to ``dt``, and ``new``
    ones, as :func:`choose_aliases` keeps them (``artists``: the snapshot's artists, whose names chat
    aliases may not take); ``None`` when there are none at all."""
    frames = [
        frame.select("artist_id", "alias", "source", F.lit(True).alias("_fresh")) for frame in new if frame is not None
    ]
    earlier = [d for d in lake.snapshots("artist_aliases") if d <= dt]
    if earlier:
        frames.insert(
            0,
            lake.read("artist_aliases", earlier[-1]).select(
                "artist_id", "alias", "source", F.lit(False).alias("_fresh")
            ),
        )
        log.info("aliases: carrying forward those of dt=%s", earlier[-1])
    if not frames:
        return None
    merged = frames[0]
    for frame in frames[1:]:
        merged = merged.unionByName(frame)
    rows = [(r.artist_id, r.alias, r.source, name_key(r.alias), r._fresh) for r in merged.collect()]
    chat_keys = sorted({row[3] for row in rows if row[2] == "chat" and row[3]})
    named: dict[str, set[str]] = {}
    if chat_keys and artists is not None:
        for row in (
            artists.select("artist_id", name_key_udf("name").alias("key")).where(F.col("key").isin(chat_keys)).collect()
        ):
            named.setdefault(row.key, set()).add(row.artist_id)
    kept = choose_aliases(rows, removed_aliases(lake) if chat_keys else set(), named)
    return schemas.local_frame(spark, kept, schemas.ARTIST_ALIASES)
