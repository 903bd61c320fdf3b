"""Public listening data -> the lake's ``artist_contexts`` (context_id, artist_id, weight, source).

A context is one listener or one playlist; ``weight`` is how much it holds the artist. Four layouts
(``--listens PATH --listens-layout NAME``), each read with Spark, never whole on the driver:

============  =====================================================================================
layout        PATH, and what a row gives
============  =====================================================================================
hetrec        Last.fm HetRec 2011: the folder holding ``user_artists.dat`` (``userID artistID
              weight``, tab-separated, a header) and ``artists.dat`` (``id name url pictureURL``).
              Context: the user; artist: the name artists.dat gives the id; weight: plays
lastfm360k    Last.fm 360K: ``usersha1-artmbid-artname-plays.tsv`` or the folder holding it (no
              header; user sha1, artist MusicBrainz id (ignored), artist name, plays)
playlists     TidyTuesday ``spotify_songs.csv`` (quoted CSV with a header): context ``playlist_id``,
              artist ``track_artist`` (a name); weight: the artist's rows (tracks) in the playlist
csv           ``context,artist[,weight]`` (a header row is optional): the artist a Spotify id of the
              snapshot or a name; weight 1 when not given
============  =====================================================================================

Rows are checked before anything else (:func:`checked`): a row with a missing context or artist,
a weight that is not a finite number of at least 0, a control character, a value longer than
:data:`MAX_CONTEXT` / :data:`MAX_NAME` characters, or a line of the wrong shape is *bad*: counted and
skipped, never fatal. Names match the snapshot's artists by name key (``shared.names.name_key``),
through their names and their aliases alike; a key that several artists hold is *ambiguous* and
matches none. Weights of one (context, artist) are summed, over rows and over names of one artist.

Ids of people are never stored: ``context_id`` is the hex HMAC-SHA256 of ``"<layout>:<raw id>"``
under a key of at least :data:`MIN_KEY` characters (:class:`ListensSettings`), computed once per
distinct context (:func:`with_context_ids`). Playlists are hashed the same way: one rule.

The run's summary (:func:`summary_line`) counts rows read, bad, matched, unmatched and ambiguous, and
the distinct contexts and artists matched; the names most often unmatched or ambiguous are logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from jobs.common import schemas
from jobs.common.config import section
from jobs.common.errors import ConfigError
from jobs.common.lake import Lake
from jobs.common.names_udf import name_key_udf
from jobs.sources.tracks_csv import TIDY_COLUMNS, has_controls, read_csv

log = logging.getLogger(__name__)

LAYOUTS = ("hetrec", "lastfm360k", "playlists", "csv")
MIN_KEY = 16  # characters of the HMAC key, as the chatbot's REQUEST_KEY
MAX_CONTEXT = 256  # characters of a raw context id (a sha1 is 40, a playlist id 22)
MAX_NAME = 512  # characters of an artist name or id (shared.names.MAX_KEY_LENGTH)
TOP_NAMES = 5  # unmatched (and ambiguous) names logged, most rows first
MATCHED, UNMATCHED, AMBIGUOUS, BAD = "matched", "unmatched", "ambiguous", "bad"

HETREC_PLAYS, HETREC_ARTISTS = "user_artists.dat", "artists.dat"
LASTFM360K_FILE = "usersha1-artmbid-artname-plays.tsv"
# Header rows of the csv layout, recognized wherever they are (lower-cased, trimmed).
CSV_CONTEXT_HEADERS = ("context", "context_id", "user", "user_id", "listener", "playlist", "playlist_id")
CSV_ARTIST_HEADERS = ("artist", "artist_id", "artist_name", "name")
_MALFORMED = "_malformed"


# ---------------------------------------------------------------- settings and the key


@dataclass(frozen=True)
class ListensSettings:
    """``[listens]``: the file or folder, its layout, and the HMAC key (never shown)."""

    path: str
    layout: str
    key: str = field(repr=False)

    def __post_init__(self):
        check_layout(self.layout)
        check_key(self.key)

    @classmethod
    def from_config(cls, config: Mapping, env: Mapping[str, str] | None = None) -> ListensSettings | None:
        """Settings from ``[listens]`` (``path``, ``layout``, ``key_env``, ``key_secret``); ``None`` when
        ``path`` is empty. The key is read here, before any Spark work: ConfigError when there is none."""
        options = section(config, "listens")
        path = str(options.get("path", "") or "").strip()
        if not path:
            return None
        layout = str(options.get("layout", "") or "").strip()
        if not layout:
            raise ConfigError(f"--listens {path} needs --listens-layout (listens.layout): one of {', '.join(LAYOUTS)}")
        check_layout(layout)  # before a secret is read for nothing
        key = context_key(
            str(options.get("key_env", "CONTEXT_KEY") or ""),
            str(options.get("key_secret", "") or ""),
            os.environ if env is None else env,
        )
        return cls(path, layout, key)


def check_layout(layout: str) -> None:
    """ConfigError unless ``layout`` is one of :data:`LAYOUTS`."""
    if layout not in LAYOUTS:
        raise ConfigError(
            f"listens.layout {layout!r} is unknown: choose one of {', '.join(LAYOUTS)} (--listens-layout)"
        )


def context_key(key_env: str, key_secret: str, env: Mapping[str, str]) -> str:
    """The HMAC key: environment variable ``key_env``, else the AWS Secrets Manager secret ``key_secret``
    (plain, or JSON ``key``); ConfigError, saying how to set one, when neither gives a long enough key."""
    key = env.get(key_env, "") if key_env else ""
    if not key and key_secret:
        from shared.secrets import SecretError, secret_value

        try:
            key = secret_value(key_secret, "key")
        except SecretError as exc:
            raise ConfigError(f"listens.key_secret: {exc}") from None
    check_key(key, key_env)
    return key


def check_key(key: str, key_env: str = "CONTEXT_KEY") -> None:
    """ConfigError, saying how to set one, unless ``key`` has at least :data:`MIN_KEY` characters."""
    if len(key or "") < MIN_KEY:
        given = f"got {len(key)} characters" if key else "none is set"
        variable = f"the environment variable {key_env} (listens.key_env)" if key_env else "listens.key_env"
        raise ConfigError(
            f"--listens needs a key of at least {MIN_KEY} characters to hash listener ids ({given}): "
            f"set {variable} or listens.key_secret (an AWS Secrets Manager id, plain or JSON 'key'); "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))' makes one"
        )


# ---------------------------------------------------------------- layouts


def _strings(*names: str) -> StructType:
    return StructType([StructField(name, StringType(), nullable=True) for name in names])


def _load(spark: SparkSession, path: str, read) -> DataFrame:
    """``read(spark.read)``, a path that cannot be read given as ConfigError."""
    from pyspark.errors import AnalysisException

    try:
        return read(spark.read)
    except AnalysisException as exc:
        raise ConfigError(f"--listens: cannot read {path}: {str(exc).splitlines()[0]}") from None


def read_tsv(spark: SparkSession, path: str, columns: Sequence[str], header: bool, shaped: bool) -> DataFrame:
    """A tab-separated file of text columns ``columns``, no quoting; with ``shaped``, also ``_malformed``:
    not null where a line has another number of fields."""
    names = [*columns, _MALFORMED] if shaped else list(columns)
    options = {"sep": "\t", "quote": "", "header": header, "mode": "PERMISSIVE"}
    if shaped:
        options["columnNameOfCorruptRecord"] = _MALFORMED
    return _load(spark, path, lambda reader: reader.csv(path, schema=_strings(*names), **options))


def _file(path: str, name: str, suffix: str) -> str:
    """``path`` when it names a file (ends in ``suffix``), else ``name`` in the folder ``path``."""
    trimmed = path.rstrip("/")
    return trimmed if trimmed.lower().endswith(suffix) else f"{trimmed}/{name}"


def hetrec_rows(spark: SparkSession, path: str) -> DataFrame:
    """HetRec 2011 (``path``: its folder, or its ``user_artists.dat``) as :func:`checked` takes it. A row
    whose artist id artists.dat lacks gets no name (bad); an id listed twice there takes its least name."""
    folder = path.rstrip("/").rsplit("/", 1)[0] if path.rstrip("/").lower().endswith(".dat") else path.rstrip("/")
    plays = read_tsv(spark, f"{folder}/{HETREC_PLAYS}", ("context", "artist_ref", "weight"), True, True)
    names = (
        read_tsv(spark, f"{folder}/{HETREC_ARTISTS}", ("id", "name", "url", "picture"), True, False)
        .groupBy(F.trim("id").alias("id"))
        .agg(F.min("name").alias("artist"))
    )
    return plays.join(F.broadcast(names), F.trim(plays.artist_ref) == names.id, "left").select(
        "context", "artist", "weight", F.col(_MALFORMED).isNotNull().alias("malformed")
    )


def lastfm360k_rows(spark: SparkSession, path: str) -> DataFrame:
    """Last.fm 360K (``path``: the .tsv or its folder) as :func:`checked` takes it; an absurdly long
    MusicBrainz id makes the row malformed (and reading that column lets Spark see every field of a line:
    it counts a line's fields only over the columns a query reads)."""
    rows = read_tsv(spark, _file(path, LASTFM360K_FILE, ".tsv"), ("context", "mbid", "artist", "weight"), False, True)
    malformed = F.col(_MALFORMED).isNotNull() | F.coalesce(F.length("mbid") > MAX_NAME, F.lit(False))
    return rows.select("context", "artist", "weight", malformed.alias("malformed"))


def playlists_rows(spark: SparkSession, path: str) -> DataFrame:
    """TidyTuesday ``spotify_songs.csv`` (or a copy naming the artist column as :data:`TIDY_COLUMNS` allow)
    as :func:`checked` takes it: one row per track of a playlist, weight 1."""
    raw = read_csv(spark, path)
    artist = next((c for c in TIDY_COLUMNS["track_artist"] if c in raw.columns), None)
    if "playlist_id" not in raw.columns or artist is None:
        raise ConfigError(
            f"--listens {path}: the playlists layout needs the columns playlist_id and track_artist; "
            f"the file has {', '.join(raw.columns[:30])}"
        )
    return raw.select(
        F.col("playlist_id").alias("context"),
        F.col(artist).alias("artist"),
        F.lit("1").alias("weight"),
        F.lit(False).alias("malformed"),
    )


def csv_rows(spark: SparkSession, path: str) -> DataFrame:
    """A ``context,artist[,weight]`` CSV as :func:`checked` takes it: header rows left out (not counted), an
    empty or missing weight read as 1, a row with a fourth value malformed."""
    raw = _load(
        spark,
        path,
        lambda reader: reader.csv(
            path,
            schema=_strings("context", "artist", "weight", "_extra"),
            header=False,
            mode="PERMISSIVE",
            quote='"',
            escape='"',
        ),
    )
    context = F.regexp_replace("context", "^\ufeff", "")  # a byte-order mark before the first value
    header = F.lower(F.trim(context)).isin(*CSV_CONTEXT_HEADERS) & F.lower(F.trim("artist")).isin(*CSV_ARTIST_HEADERS)
    weight = F.when(F.col("weight").isNull() | (F.trim("weight") == ""), F.lit("1")).otherwise(F.col("weight"))
    return raw.where(~F.coalesce(header, F.lit(False))).select(
        context.alias("context"), "artist", weight.alias("weight"), F.col("_extra").isNotNull().alias("malformed")
    )


READERS = {"hetrec": hetrec_rows, "lastfm360k": lastfm360k_rows, "playlists": playlists_rows, "csv": csv_rows}


def layout_rows(spark: SparkSession, path: str, layout: str) -> DataFrame:
    """The rows of ``path`` in ``layout``: ``context, artist, weight`` (text as read) and ``malformed``."""
    return READERS[layout](spark, path)


# ---------------------------------------------------------------- checks and matching


def _usable(text: Column, longest: int) -> Column:
    return text.isNotNull() & (F.length(text) > 0) & (F.length(text) <= longest) & ~has_controls(text)


def checked(rows: DataFrame) -> DataFrame:
    """``context, artist, weight, malformed`` (text) -> ``context, artist`` (trimmed), ``weight`` (double),
    ``bad``: true for a malformed line, a missing, too long or control-holding context or artist, or a
    weight that is not a number, negative, NaN or infinite. Bad rows keep no values (they group as one)."""
    context, artist = F.trim("context"), F.trim("artist")
    weight = F.expr("try_cast(trim(weight) as double)")
    good = (
        ~F.col("malformed")
        & _usable(context, MAX_CONTEXT)
        & _usable(artist, MAX_NAME)
        & weight.isNotNull()
        & ~F.isnan(weight)
        & (weight >= 0)
        & (weight < float("inf"))
    )
    bad = ~F.coalesce(good, F.lit(False))
    return rows.select(
        F.when(~bad, context).alias("context"),
        F.when(~bad, artist).alias("artist"),
        F.when(~bad, weight).alias("weight"),
        bad.alias("bad"),
    )


def pairs(checked_rows: DataFrame) -> DataFrame:
    """:func:`checked` rows -> one row per ``(bad, context, artist)`` with the ``weight`` summed and the
    ``rows`` counted (all bad rows in one)."""
    return checked_rows.groupBy("bad", "context", "artist").agg(
        F.sum("weight").alias("weight"), F.count(F.lit(1)).alias("rows")
    )


def name_index(artists: DataFrame, aliases: DataFrame | None = None) -> DataFrame:
    """``key, artists, artist_id``: each name key of the snapshot's artist names and aliases, how many
    distinct artists hold it, and the least of them (the one, when ``artists`` is 1)."""
    named = artists.select("artist_id", name_key_udf("name").alias("key"))
    if aliases is not None:
        named = named.unionByName(aliases.select("artist_id", name_key_udf("alias").alias("key")))
    return (
        named.where(F.col("key").isNotNull() & (F.col("key") != "") & F.col("artist_id").isNotNull())
        .distinct()
        .groupBy("key")
        .agg(F.count(F.lit(1)).alias("artists"), F.min("artist_id").alias("artist_id"))
    )


def matched_names(
    refs: DataFrame, artists: DataFrame, aliases: DataFrame | None = None, by_id: bool = False
) -> DataFrame:
    """``ref, rows`` (distinct artist names or ids) -> ``ref, rows, artist_id, status``: ``matched`` (with
    its ``artist_id``) when ``ref`` is an id of ``artists`` (only ``by_id``) or its name key belongs to
    exactly one artist's name or aliases; ``ambiguous`` when the key belongs to several; else ``unmatched``."""
    keyed = refs.withColumn("key", name_key_udf("ref"))
    if by_id:
        ids = artists.select(F.col("artist_id").alias("_id")).distinct()
        keyed = keyed.join(ids, F.col("ref") == F.col("_id"), "left")
    else:
        keyed = keyed.withColumn("_id", F.lit(None).cast("string"))
    index = name_index(artists, aliases).withColumnRenamed("artist_id", "_named")
    joined = keyed.join(index, "key", "left")
    status = (
        F.when(F.col("_id").isNotNull() | (F.col("artists") == 1), F.lit(MATCHED))
        .when(F.col("artists") > 1, F.lit(AMBIGUOUS))
        .otherwise(F.lit(UNMATCHED))
    )
    artist_id = F.coalesce("_id", F.when(F.col("artists") == 1, F.col("_named")))
    return joined.select("ref", "rows", artist_id.alias("artist_id"), status.alias("status"))


def resolved(pair_rows: DataFrame, names: DataFrame) -> DataFrame:
    """Good :func:`pairs` rows whose artist was matched (``names``: :func:`matched_names`) -> ``context,
    artist_id, weight``, one row per (context, artist), the weights of its names summed."""
    matched = names.where(F.col("status") == MATCHED).select(F.col("ref").alias("artist"), "artist_id")
    return (
        pair_rows.where(~F.col("bad"))
        .join(matched, "artist")
        .groupBy("context", "artist_id")
        .agg(F.sum("weight").alias("weight"))
    )


# ---------------------------------------------------------------- context ids


def context_hmac(key: str, layout: str):
    """A pandas UDF: raw context id -> hex HMAC-SHA256 under ``key`` of ``"<layout>:<raw id>"``."""
    secret, prefix = key.encode("utf-8"), f"{layout}:"

    def digest(raw: str) -> str:
        return hmac.new(secret, (prefix + raw).encode("utf-8"), hashlib.sha256).hexdigest()

    @F.pandas_udf(StringType())
    def context_ids(raw_ids):
        return raw_ids.map(digest, na_action="ignore")

    return context_ids


def with_context_ids(frame: DataFrame, key: str, layout: str) -> DataFrame:
    """``frame`` with its raw ``context`` replaced by ``context_id`` (:func:`context_hmac`), computed once
    per distinct context and joined back."""
    contexts = frame.select("context").distinct()
    hashed = contexts.select("context", context_hmac(key, layout)("context").alias("context_id"))
    return frame.join(hashed, "context").drop("context")


# ---------------------------------------------------------------- the whole read


@dataclass
class Listens:
    """What :func:`read_listens` gives: ``contexts`` (lazy, in the ``artist_contexts`` layout), the
    ``summary`` counts, and the cached frames behind them (:meth:`release` once ``contexts`` is written)."""

    contexts: DataFrame
    summary: dict[str, int]
    cached: tuple[DataFrame, ...] = ()

    def release(self) -> None:
        for frame in self.cached:
            frame.unpersist()


def read_listens(
    spark: SparkSession, settings: ListensSettings, artists: DataFrame, aliases: DataFrame | None = None
) -> Listens:
    """The listening contexts of ``settings.path`` matched against the snapshot's ``artists`` (and their
    ``aliases``: ``artist_id, alias``), each context id hashed; logs the summary and the names most often
    left unmatched or ambiguous. The file is parsed once (its pairs cached); the summary takes two Spark jobs."""
    rows = checked(layout_rows(spark, settings.path, settings.layout))
    pair_rows = pairs(rows).persist(StorageLevel.MEMORY_AND_DISK)
    refs = pair_rows.where(~F.col("bad")).groupBy(F.col("artist").alias("ref")).agg(F.sum("rows").alias("rows"))
    names = matched_names(refs, artists, aliases, by_id=settings.layout == "csv").persist(StorageLevel.MEMORY_AND_DISK)
    matched = resolved(pair_rows, names)
    summary, top = summarize(pair_rows, names, matched)
    log.info("%s", summary_line(settings.layout, summary))
    for status, shown in top.items():
        if shown:
            log.info("listens: %s names, most rows first: %s", status, ", ".join(shown))
    if summary["read"] and not summary["pairs"]:
        log.warning("listens: no row of %s matched an artist of the snapshot", settings.path)
    contexts = with_context_ids(matched, settings.key, settings.layout).select(
        "context_id", "artist_id", "weight", F.lit(settings.layout).alias("source")
    )
    return Listens(contexts, summary, (pair_rows, names))


def summarize(pair_rows: DataFrame, names: DataFrame, matched: DataFrame) -> tuple[dict[str, int], dict[str, list]]:
    """The summary: rows ``read`` and ``bad``; rows ``matched``, ``unmatched`` and ``ambiguous``; distinct
    ``contexts`` and ``artists`` matched, and the (context, artist) ``pairs`` kept. And for ``unmatched`` and
    ``ambiguous``, the :data:`TOP_NAMES` names with the most rows, as ``"name (rows)"``. Two Spark jobs."""
    bad = pair_rows.where(F.col("bad")).select(
        F.lit(None).cast("string").alias("ref"), "rows", F.lit(BAD).alias("status")
    )
    statuses = names.select("ref", "rows", "status").unionByName(bad)
    group = Window.partitionBy("status")
    top = (
        statuses.withColumn("_n", F.row_number().over(group.orderBy(F.desc("rows"), "ref")))
        .withColumn("_rows", F.sum("rows").over(group))
        .where(F.col("_n") <= TOP_NAMES)
        .collect()
    )
    counted = {row.status: int(row._rows) for row in top}
    spread = matched.agg(
        F.countDistinct("context").alias("contexts"),
        F.countDistinct("artist_id").alias("artists"),
        F.count(F.lit(1)).alias("pairs"),
    ).first()
    summary = {
        "read": sum(counted.values()),
        "bad": counted.get(BAD, 0),
        **{status: counted.get(status, 0) for status in (MATCHED, UNMATCHED, AMBIGUOUS)},
        "contexts": int(spread.contexts),
        "artists": int(spread.artists),
        "pairs": int(spread.pairs),
    }
    shown = {
        status: [f"{row.ref} ({row.rows})" for row in sorted(top, key=lambda row: row._n) if row.status == status]
        for status in (UNMATCHED, AMBIGUOUS)
    }
    return summary, shown


def summary_line(layout: str, summary: Mapping[str, int]) -> str:
    return (
        "listens ({layout}) summary: {read} rows read; {bad} bad (skipped: a missing or overlong field, "
        "a weight not a number >= 0, a control character, a line of the wrong shape); {matched} matched, "
        "{unmatched} unmatched, {ambiguous} ambiguous (a name of several artists); {contexts} contexts and "
        "{artists} artists matched, {pairs} (context, artist) rows"
    ).format(layout=layout, **summary)


# ---------------------------------------------------------------- the snapshot's contexts


def snapshot_contexts(lake: Lake, dt: str, artists: DataFrame, new: Mapping[str, DataFrame | None]) -> DataFrame | None:
    """The ``artist_contexts`` to write with snapshot ``dt``: the ``new`` frames (keyed by the source whose
    rows each replaces; ``None``: that source has none this run), and the rows of the latest snapshot up to
    ``dt`` of every other source, carried forward for the artists of ``artists``; ``None`` when there are none.
    """
    columns = [f.name for f in schemas.ARTIST_CONTEXTS.fields]
    frames = [frame.select(*columns) for frame in new.values() if frame is not None]
    earlier = [d for d in lake.snapshots("artist_contexts") if d <= dt]
    if earlier:
        carried = (
            lake.read("artist_contexts", earlier[-1])
            .where(~F.col("source").isin(*new))
            .join(artists.select("artist_id").distinct(), "artist_id", "left_semi")
            .select(*columns)
        )
        log.info(
            "contexts: carrying forward those of dt=%s from sources other than %s, for this snapshot's artists",
            earlier[-1],
            ", ".join(sorted(new)),
        )
        frames.insert(0, carried)
    if not frames:
        return None
    merged = frames[0]
    for frame in frames[1:]:
        merged = merged.unionByName(frame)
    return merged
