"""Ingest job: a source's artists, top tracks and audio features into one lake snapshot.

    python jobs/ingest.py --source synthetic [--artists N] [--seed S] [--dt YYYY-MM-DD]
    python jobs/ingest.py --source spotify [--seeds ID_OR_NAME,...] [--seeds-file F] [--refresh] [--requests]
                                           [--max-requests N]
    python jobs/ingest.py --source tracks-csv --tracks FILE [--artists-csv FILE]
    python jobs/ingest.py ... --aliases-csv FILE     # curated other spellings: artist id or name, alias
    python jobs/ingest.py ... --listens PATH --listens-layout hetrec|lastfm360k|playlists|csv

Writes the lake tables ``artists``, ``top_tracks`` and ``audio_features`` for
one dt (default: today, UTC), ``artist_aliases`` (carried forward from the
latest snapshot, plus curated ones and those chat users taught and earned), and ``artist_contexts``
(listening data: the synthetic source's, ``--listens``, and those of other sources carried forward;
``jobs.sources.listens``). Re-running for
the same dt replaces that dt's rows; other dts are never touched. Nothing is written until the source's data
is fetched; while the tables are written the dt is marked unfinished in the
lake's ``ingest_log``, so readers never see a mix of two runs. The chatbot's requests are taken
last and capped (``jobs.sources.chat_requests``); they are marked in the mart only after the write.
"""

from __future__ import annotations

import datetime
import logging
import sys
import time
from collections.abc import Mapping, Sequence

from pyspark.sql import SparkSession

from jobs.common import schemas
from jobs.common.cli import base_parser, exit_status, setup_logging
from jobs.common.config import load_config, set_path
from jobs.common.errors import ConfigError, MartError, SnapshotError
from jobs.common.lake import Lake, today_utc
from jobs.common.progress import Progress
from jobs.common.spark import start_spark
from jobs.common.timing import stage
from jobs.settings import SOURCES, IngestSettings
from jobs.sources import chat_listens, chat_requests, learned_aliases
from jobs.sources.aliases import chat_aliases, curated_aliases, read_aliases_csv, removed_aliases, snapshot_aliases
from jobs.sources.listens import LAYOUTS, Listens, read_listens, snapshot_contexts
from jobs.sources.seeds import wanted_artists
from jobs.sources.spotify import SpotifyCatalog, SpotifyError
from jobs.sources.spotify_snapshot import SpotifySnapshot, fetch_snapshot, resolve_names
from jobs.sources.synthetic import generate

log = logging.getLogger("jobs.ingest")

EXIT_API = 3

EPILOG = """\
sources:
  synthetic   artists in genre-like clusters, ~10 top tracks each, with audio features; deterministic for
              a seed (config section [synthetic]: artists, seed, genres, max_tracks, missing_features,
              contexts, context_size: listening contexts drawn by genre, popular artists in many)
  spotify     the Spotify Web API through spotipy, client credentials from SPOTIPY_CLIENT_ID and
              SPOTIPY_CLIENT_SECRET (or [spotify] credentials_secret in AWS Secrets Manager). Artists from
              ingest.seeds / --seeds (ids or names), --seeds-file, --refresh (the lake's artists) and
              --requests (names the chatbot could not answer, from the mart's artist_requests, and the
              aliases chat users confirmed: one is learned only when ingest.alias_min_users (3) users
              confirmed it, it holds no request words, a fresh search finds its artist among the first
              ingest.alias_search_results (5), and no curated alias or other artist's name has its key;
              python -m jobs.aliases lists and removes learned ones). Requests come
              last: at most ingest.max_requests (--max-requests) a run, most distinct users first; a name
              not found waits ingest.request_retry_days and a new ask; requests nobody asked for in
              ingest.request_expiry_days are deleted. When Spotify stops the run during the requests,
              what was fetched is written (a warning says how many requests were left; exit 0).
              Falls back per endpoint when the app may not call it (see [spotify] in conf/local.toml).
  tracks-csv  a public tracks-with-audio-features file: the "1.2M songs" tracks_features.csv, or the
              "600k tracks" tracks.csv with --artists-csv artists.csv for names and genres

listening data (any source; lake table artist_contexts, config section [listens]):
  --listens PATH --listens-layout NAME, matched to the snapshot's artists by name key (names and aliases;
  a name of several artists is ambiguous and skipped), bad rows counted and skipped, weights of one
  (context, artist) summed. Context ids are stored only as an HMAC-SHA256 keyed by the environment
  variable CONTEXT_KEY (listens.key_env) or listens.key_secret (AWS Secrets Manager), 16+ characters.
  hetrec      Last.fm HetRec 2011: the folder with user_artists.dat and artists.dat (plays per user)
  lastfm360k  Last.fm 360K: usersha1-artmbid-artname-plays.tsv or its folder (plays per user)
  playlists   TidyTuesday spotify_songs.csv: playlist_id, track_artist (the artist's tracks per playlist)
  csv         context,artist[,weight] rows (header optional; artist a Spotify id or a name; weight 1)
  The synthetic source writes its own (ids synthetic:<n>, not hashed). The rows of the sources not read in
  a run are carried forward from the latest snapshot up to its dt, for the artists it writes.

examples:
  python jobs/ingest.py --source synthetic --artists 20000
  python jobs/ingest.py --source synthetic --artists 1000000 --dt 2026-11-27 --lake /data/lake
  SPOTIPY_CLIENT_ID=... SPOTIPY_CLIENT_SECRET=... python jobs/ingest.py --source spotify --seeds "IU,NewJeans"
  python jobs/ingest.py --source tracks-csv --tracks data/tracks_features.csv
  CONTEXT_KEY=... python jobs/ingest.py --source tracks-csv --tracks spotify_songs.csv \\
      --listens spotify_songs.csv --listens-layout playlists
  CONTEXT_KEY=... python jobs/ingest.py --source tracks-csv --tracks tracks_features.csv \\
      --listens hetrec-2011-lastfm-2k --listens-layout hetrec

exit status: 0 done, 2 bad settings or nothing to ingest, 3 the Spotify API stopped the run before the
requests (quota spent, credentials refused, an endpoint failing after its retries: nothing was written),
1 anything else.
"""


def parse_args(argv: Sequence[str] | None):
    parser = base_parser(__doc__.split("\n\n")[0], EPILOG, prog="python jobs/ingest.py")
    parser.add_argument("--source", choices=SOURCES, help="where the data comes from (overrides ingest.source)")
    parser.add_argument("--artists", type=int, help="synthetic: number of artists (overrides synthetic.artists)")
    parser.add_argument("--seed", type=int, help="synthetic: random seed (overrides synthetic.seed)")
    parser.add_argument("--seeds", help="spotify: comma-separated artist ids or names (overrides ingest.seeds)")
    parser.add_argument("--seeds-file", metavar="FILE", help="spotify: one artist id or name per line")
    parser.add_argument("--refresh", action="store_true", help="spotify: also the artists of the lake's latest dt")
    parser.add_argument(
        "--requests",
        action="store_true",
        help="spotify: also the names the chatbot could not answer (mart artist_requests)",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        metavar="N",
        help="spotify: take at most N requests this run (overrides ingest.max_requests)",
    )
    parser.add_argument("--tracks", metavar="FILE", help="tracks-csv: the tracks file (overrides tracks_csv.tracks)")
    parser.add_argument(
        "--artists-csv", metavar="FILE", help="tracks-csv: the 600k layout's artists.csv (overrides tracks_csv.artists)"
    )
    parser.add_argument(
        "--aliases-csv",
        metavar="FILE",
        help="any source: other spellings to publish, one 'artist,alias' row each (artist id or "
        "the artist's name; overrides ingest.aliases_csv)",
    )
    parser.add_argument(
        "--listens",
        metavar="PATH",
        help="any source: listening data to match to the snapshot's artists (overrides listens.path)",
    )
    parser.add_argument("--listens-layout", choices=LAYOUTS, help="the layout of --listens (overrides listens.layout)")
    parser.add_argument(
        "--chat-listens",
        action="store_true",
        help="any source: also what the chatbot answered per signed user (the mart's chat_listens, "
        "kept ingest.chat_retention_days, 90) as listening data (overrides ingest.chat_listens)",
    )
    return parser.parse_args(argv)


def run(spark: SparkSession, settings: IngestSettings, dt: str) -> dict[str, int]:
    """Ingest one snapshot from the configured source; returns rows written per table."""
    lake = Lake.from_settings(spark, settings)
    log.info("ingest dt=%s from %s into %s", dt, settings.source, lake.root)
    requests = None
    if settings.source == "spotify":
        frames, requests = spotify_frames(spark, settings, lake)
    elif settings.source == "tracks-csv":
        frames = tracks_csv_frames(spark, settings.tracks_csv)
    else:
        log.info("synthetic: %s", settings.synthetic)
        frames = generate(spark, settings.synthetic)
    aliases = snapshot_aliases(
        spark, lake, dt, frames.pop("artist_aliases", None), curated(spark, settings, frames), artists=frames["artists"]
    )
    if aliases is not None:
        frames["artist_aliases"] = aliases
    # Listening data, by the source whose earlier rows it replaces: the source's own (synthetic's), --listens.
    listens = listening(spark, settings, frames)
    new = {settings.source: frames.pop("artist_contexts", None)}
    if listens is not None:
        new[settings.listens.layout] = listens.contexts
    chat = chat_contexts(spark, settings, frames["artists"]) if settings.chat_listens is not None else None
    if chat is not None:
        new[chat_listens.SOURCE] = chat
    contexts = snapshot_contexts(lake, dt, frames["artists"], new)
    if contexts is not None:
        frames["artist_contexts"] = contexts
    # Delta commits each table on its own: the dt is marked unfinished (readers refuse it) while they
    # are committed. A run that dies after a commit leaves it so, until a re-run completes it.
    try:
        with lake.writing(dt, settings.source, list(frames)) as written, stage(log, "write the snapshot"):
            for table, frame in frames.items():
                started = time.perf_counter()
                written[table] = lake.write(frame, table, dt)
                # A detail: the console has the stage's line, the log file each table's time.
                log.info("wrote %s in %.1f s", table, time.perf_counter() - started, extra={"detail": True})
    finally:
        if listens is not None:
            listens.release()
    log.info("ingest dt=%s done: %s", dt, ", ".join(f"{t} {n} rows" for t, n in written.items()))
    if requests is not None:
        try:
            chat_requests.record_requests(spark, settings.mart, requests, settings.policy, _now())
        except MartError as exc:  # the snapshot stands; the next run looks these requests up again
            log.warning("requests: not marked in the mart (%s); the next run looks them up again", exc)
    return written


def chat_contexts(spark: SparkSession, settings: IngestSettings, artists):
    """The mart's chat listening as ``artist_contexts`` rows (``jobs.sources.chat_listens``) of the snapshot's
    ``artists``, cached: the mart is read once. An unreachable mart leaves chat's earlier rows carried
    forward, with a warning."""
    chat = settings.chat_listens
    try:
        frame = (
            chat_listens.chat_contexts(spark, settings.chat_target, _now(), chat.retention_days, chat.weight_cap)
            .join(artists.select("artist_id").distinct(), "artist_id", "left_semi")
            .select("context_id", "artist_id", "weight", "source")
            .cache()
        )
        log.info("chat listens: %d (user, artist) rows from the mart", frame.count())
        return frame
    except MartError as exc:
        log.warning("chat listens: the mart could not be read (%s); the lake's earlier chat rows are kept", exc)
        return None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def listening(spark: SparkSession, settings: IngestSettings, frames: dict) -> Listens | None:
    """The ``--listens`` data matched to the snapshot's artists and aliases in ``frames``, or ``None``."""
    if settings.listens is None:
        return None
    with stage(log, f"listens ({settings.listens.layout})"):
        return read_listens(spark, settings.listens, frames["artists"], frames.get("artist_aliases"))


def curated(spark: SparkSession, settings: IngestSettings, frames: dict):
    """The curated aliases of ``ingest.aliases_csv`` for the artists being written, or ``None``."""
    if not settings.aliases_csv:
        return None
    return curated_aliases(spark, read_aliases_csv(settings.aliases_csv), frames["artists"])


def spotify_frames(spark: SparkSession, settings: IngestSettings, lake: Lake) -> dict:
    """The lake tables from the Spotify Web API, fetched on the driver: seeds and refresh first (a
    SpotifyError stops the run), then the chatbot's requests (a SpotifyError keeps what was fetched);
    and the requests taken, to be marked in the mart after the write (``None`` without --requests)."""
    catalog = SpotifyCatalog(settings.spotify)
    ids, names = wanted_artists(settings.seeds, settings.seeds_file, settings.refresh, lake)
    requests = taken_requests(spark, settings, ids, names)
    snapshot, unresolved = fetch_wanted(catalog, ids, names)
    taught = answer_requests(spark, settings, lake, catalog, snapshot, requests)
    not_found = unresolved + (requests.not_found() if requests else [])
    log_summary(catalog, snapshot, not_found)
    if not snapshot.artists:
        stop_without_artists(spark, settings, requests)
    # What was looked for and not found is kept with the snapshot, for the next run and for people.
    missing = [(name, names[name], "spotify") for name in unresolved]
    missing += [(name, "request", "spotify") for name in (requests.not_found() if requests else [])]
    return snapshot_frames(spark, snapshot, learned_from_chat(taught, snapshot), missing), requests


def _progress(label: str, total: int) -> Progress:
    return Progress(label, total, log)


def taken_requests(spark: SparkSession, settings: IngestSettings, ids: list, names: dict):
    """The chatbot's requests taken for this run (``None`` without --requests); ConfigError when there is
    nothing at all to ingest."""
    requests = chat_requests.take_requests(spark, settings.mart, settings.policy, _now()) if settings.requests else None
    if not ids and not names and not (requests and requests.taken):
        raise ConfigError(
            "no artists to ingest: set ingest.seeds (ids or names), ingest.seeds_file, "
            "ingest.refresh = true or ingest.requests = true (with requests in the mart)"
        )
    return requests


def fetch_wanted(catalog: SpotifyCatalog, ids: list, names: dict) -> tuple[SpotifySnapshot, list[str]]:
    """``(snapshot, names not found)``: the seed and refresh artists, names resolved first. A SpotifyError
    stops the run, after a log line with the catalog's counts."""
    try:
        found, unresolved = resolve_names(catalog, names, _progress)
        snapshot = fetch_snapshot(catalog, ids + found, _progress) if ids or found else SpotifySnapshot()
    except SpotifyError:
        log.error("Spotify: %s", ", ".join(f"{k} {v:g}" for k, v in sorted(catalog.stats.items())))
        raise
    return snapshot, unresolved


def answer_requests(
    spark: SparkSession,
    settings: IngestSettings,
    lake: Lake,
    catalog: SpotifyCatalog,
    snapshot: SpotifySnapshot,
    requests,
) -> list[tuple[str, str]]:
    """Look the chatbot's requests up into ``snapshot`` and report them; returns the aliases chat users
    taught (``earned_aliases``), none without requests."""
    if requests is None:
        return []
    chat_requests.look_up(catalog, requests, snapshot, _progress)
    chat_requests.report(requests)
    return earned_aliases(spark, settings, lake, catalog, snapshot, _progress)


def stop_without_artists(spark: SparkSession, settings: IngestSettings, requests) -> None:
    """Spotify returned no artist: mark the requests looked up (all not found: the next run moves on), then
    raise the error that stopped them, or a SnapshotError."""
    if requests is not None and requests.looked_up:
        chat_requests.record_requests(spark, settings.mart, requests, settings.policy, _now())
    if requests is not None and requests.stopped is not None:
        raise requests.stopped
    raise SnapshotError("Spotify returned none of the wanted artists: nothing to write")


def learned_from_chat(taught: list[tuple[str, str]], snapshot: SpotifySnapshot) -> list:
    """The aliases chat users taught for artists of ``snapshot`` (``chat_aliases``), logged."""
    learned = chat_aliases(taught, snapshot.artists)
    if learned:
        log.info(
            "aliases learned from chat users for %d artists: %s",
            len(learned),
            ", ".join(f"{alias} -> {artist_id}" for artist_id, alias, _ in learned[:10]),
        )
    return learned


def snapshot_frames(spark: SparkSession, snapshot: SpotifySnapshot, learned: list, missing: list) -> dict:
    """The lake tables of a fetched Spotify snapshot, with the learned aliases and the names not found."""
    return {
        "artists": schemas.local_frame(spark, snapshot.artists, schemas.ARTISTS),
        "artist_aliases": schemas.local_frame(spark, learned, schemas.ARTIST_ALIASES) if learned else None,
        "top_tracks": schemas.local_frame(spark, snapshot.top_tracks, schemas.TOP_TRACKS_WITH_AUDIO),
        "audio_features": schemas.local_frame(spark, snapshot.audio_features, schemas.AUDIO_FEATURES),
        "unresolved_names": schemas.local_frame(spark, missing, schemas.UNRESOLVED_NAMES),
    }


def earned_aliases(
    spark: SparkSession,
    settings: IngestSettings,
    lake: Lake,
    catalog: SpotifyCatalog,
    snapshot: SpotifySnapshot,
    progress,
) -> list[tuple[str, str]]:
    """``(typed, artist id)`` of the aliases chat users confirmed that pass ``learned_aliases``' checks,
    their artists fetched into ``snapshot`` (a SpotifyError leaves the rest for the next run)."""
    policy = settings.policy
    candidates = learned_aliases.take_candidates(spark, settings.mart, policy.alias_min_users)
    candidates = learned_aliases.screen(candidates, removed_aliases(lake)) if candidates else []
    candidates = learned_aliases.confirmed_by_search(catalog, candidates, policy.alias_search_results)
    have = {row[0] for row in snapshot.artists}
    new = list(dict.fromkeys(c.artist_id for c in candidates if c.artist_id not in have))
    if new:
        try:
            chat_requests.merge(snapshot, fetch_snapshot(catalog, new, progress))
        except SpotifyError as exc:
            log.warning(
                "aliases: Spotify stopped fetching their artists (%s); those not fetched wait for the next run",
                str(exc).split(". ")[0],
            )
    return [(c.typed, c.artist_id) for c in candidates]


def log_summary(catalog: SpotifyCatalog, snapshot: SpotifySnapshot, unresolved: list[str]) -> None:
    stats = catalog.stats
    log.info(
        "Spotify summary: %d artists, %d top tracks, %d audio features fetched; skipped: %d unknown "
        "artist ids, %d invalid ids, %d names not found%s, %d tracks without features; %d requests, "
        "%d retries, %d rate-limit waits (%.0f s), %d failed; closed endpoints: %s",
        len(snapshot.artists),
        len(snapshot.top_tracks),
        len(snapshot.audio_features),
        stats["skipped_artists"],
        stats["invalid_ids"],
        len(unresolved),
        f" ({', '.join(unresolved[:10])})" if unresolved else "",
        stats["tracks_without_features"],
        stats["requests"],
        stats["retries"],
        stats["rate_limited"],
        stats["waited_s"],
        stats["failed_requests"],
        ", ".join(sorted(catalog.closed)) or "none",
    )


def tracks_csv_frames(spark: SparkSession, options: Mapping) -> dict:
    """The lake tables of a tracks-csv file; ``options`` are ``[tracks_csv]`` (``IngestSettings.tracks_csv``)."""
    from jobs.sources.tracks_csv import read_tracks_csv

    return read_tracks_csv(spark, options)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level)

    def job() -> None:
        config = load_config(args.config, args.overrides)
        seeds = [x.strip() for x in args.seeds.split(",") if x.strip()] if args.seeds else None
        for key, value in {
            "lake.path": args.lake,
            "ingest.source": args.source,
            "synthetic.artists": args.artists,
            "synthetic.seed": args.seed,
            "ingest.seeds": seeds,
            "ingest.seeds_file": args.seeds_file,
            "ingest.refresh": args.refresh or None,
            "ingest.requests": args.requests or None,
            "ingest.max_requests": args.max_requests,
            "tracks_csv.tracks": args.tracks,
            "tracks_csv.artists": args.artists_csv,
            "ingest.aliases_csv": args.aliases_csv,
            "ingest.chat_listens": args.chat_listens or None,
            "listens.path": args.listens,
            "listens.layout": args.listens_layout,
        }.items():
            if value is not None:
                set_path(config, key, value)
        settings = IngestSettings.from_config(config)
        run(start_spark(config, "ingest"), settings, args.dt or today_utc())

    try:
        return exit_status(job, log)
    except SpotifyError as exc:
        log.error("stopped: %s", exc)
        return EXIT_API


if __name__ == "__main__":
    sys.exit(main())
