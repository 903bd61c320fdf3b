"""Other spellings of artist names (``artist_aliases`` in the lake: artist_id, alias, source).

Three sources, written with each ingested snapshot:

- ``previous``: the aliases of the lake's latest snapshot up to this dt, carried forward, so that
  what was learned once is served by every later publish;
- ``curated``: a CSV file of ``artist,alias`` rows (``--aliases-csv``), where ``artist`` is an
  artist id or the artist's name as in the snapshot (matched by name key);
- ``chat``: names a chat user typed for an artist that a live lookup resolved (the chatbot records
  them in the mart's ``artist_requests`` with the Spotify id; ingest fetches the artist and keeps the
  typed name when it is not the artist's own name).

The publish job keeps an alias only for an artist of the snapshot it publishes, and drops one
equal to the artist's own name key (``jobs.publish.frames.mart_artist_aliases``).
"""

from __future__ import annotations

import csv
import logging
from typing import Iterable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common import schemas
from jobs.common.errors import ConfigError
from jobs.common.lake import Lake
from jobs.common.names_udf import name_key_udf
from shared.names import name_key

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
                if number == 1 and [v.lower() for v in values] in (["artist", "alias"], ["artist_id", "alias"],
                                                                    ["name", "alias"]):
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
    by_name = (refs.join(by_id.select("ref"), "ref", "left_anti").withColumn("key", name_key_udf("ref"))
               .join(named, "key").select("ref", "artist_id", "alias"))
    matched = by_id.unionByName(by_name).cache()
    found = {row.ref for row in matched.select("ref").distinct().collect()}
    missing = sorted({ref for ref, _ in rows} - found)
    if missing:
        log.warning("--aliases-csv: %d artists match no artist id or name of the snapshot and are skipped: %s%s",
                    len(missing), ", ".join(missing[:5]), ", ..." if len(missing) > 5 else "")
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


def snapshot_aliases(spark: SparkSession, lake: Lake, dt: str, *new: DataFrame) -> DataFrame | None:
    """The aliases to write with snapshot ``dt``: those of the latest snapshot up to ``dt``, and ``new``
    ones, each (artist, alias key) once; ``None`` when there are none at all."""
    frames = [frame.select("artist_id", "alias", "source") for frame in new if frame is not None]
    earlier = [d for d in lake.snapshots("artist_aliases") if d <= dt]
    if earlier:
        frames.insert(0, lake.read("artist_aliases", earlier[-1]).select("artist_id", "alias", "source"))
        log.info("aliases: carrying forward those of dt=%s", earlier[-1])
    if not frames:
        return None
    merged = frames[0]
    for frame in frames[1:]:
        merged = merged.unionByName(frame)
    keyed = merged.where(F.col("artist_id").isNotNull() & F.col("alias").isNotNull()) \
        .withColumn("_key", name_key_udf("alias"))
    return keyed.dropDuplicates(["artist_id", "_key"]).select(
        *[F.col(field.name).cast(field.dataType) for field in schemas.ARTIST_ALIASES.fields])
