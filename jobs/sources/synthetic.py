"""Synthetic source: artists, top tracks and audio features drawn from genre-like clusters.

For demos, tests and benchmarks, where the Spotify API is out of reach. Each
artist belongs to a genre; the genre fixes a centre in audio-feature space,
the artist's profile scatters around it, and each of the artist's tracks
scatters around the profile. Ranges follow Spotify's: loudness in dB
(-60..0), tempo in BPM, key 0..11, mode 0/1, time signature 3, 4 or 5, the other
features 0..1, rounded to 3 decimals as the API returns them. Release dates gather around a
year per genre.

Output is a pure function of ``(SyntheticSpec, chunk)``: artists are made in
fixed-size chunks, each with its own random streams, so the same spec gives
the same rows whatever the Spark partitioning or number of cores.

Names are made up from syllables: most are Latin (``Rasowa Rawa``); one in ``HANGUL_STRIDE`` is Hangul,
two Korean words (``하늘소리``), each with its romanization (``Haneul Sori``) as an alias
(``artist_aliases``, source ``synthetic``, :func:`aliases_chunk`), so that a demo answers a Hangul name,
its 초성 and its romanization. They are drawn from a stream of their own: only names differ from a
generator without them. No pictures: ``image_url`` and ``album_image_url`` are null (a made-up URL does
not load).

Listening contexts (``artist_contexts``, :func:`contexts_chunk`) are made the same way, in chunks of
contexts: each context mostly draws artists of one or two genres, popular ones far more often (a
long tail), with play counts as weights. Their ids are ``synthetic:<n>``, not hashed: no person
stands behind them.

This module stays whole (a little over 500 lines): the chunk generators and the id and name
helpers they draw from are one deterministic recipe, easier to check for stability in one place (the
contexts draw on the artists' own genres and popularity, from the same plan stream).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession

from jobs.common import schemas

SOURCE = "synthetic"
CHUNK_SIZE = 50_000  # artists per chunk; part of the output's definition, do not tune per run
CONTEXT_CHUNK = 20_000  # contexts per chunk (about 400,000 rows: one Arrow batch); part of the definition too

UNIT_FEATURES = ("danceability", "energy", "speechiness", "acousticness", "instrumentalness", "liveness", "valence")

GENRE_NAMES = (
    "k-pop",
    "k-indie",
    "k-rap",
    "k-ballad",
    "trot",
    "j-pop",
    "city pop",
    "mandopop",
    "dance pop",
    "electropop",
    "indie pop",
    "synthpop",
    "indie rock",
    "alternative rock",
    "hard rock",
    "metal",
    "punk",
    "emo",
    "hip hop",
    "trap",
    "r&b",
    "neo soul",
    "soul",
    "funk",
    "disco",
    "house",
    "techno",
    "drum and bass",
    "dubstep",
    "ambient",
    "lo-fi",
    "jazz",
    "bossa nova",
    "classical",
    "film score",
    "folk",
    "country",
    "latin pop",
    "reggaeton",
    "afrobeats",
)

_SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ra",
    "ne",
    "so",
    "ti",
    "vu",
    "ze",
    "bo",
    "da",
    "fe",
    "gi",
    "ha",
    "ju",
    "ki",
    "la",
    "mo",
    "nu",
    "pa",
    "ri",
    "se",
    "to",
    "ve",
    "wa",
    "yo",
    "zu",
    "an",
    "el",
    "on",
)
_ALPHABET = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)

_ARROW = {
    name: schemas.arrow_schema(schemas.LAKE_TABLES[name])
    for name in ("artists", "top_tracks", "audio_features", "artist_contexts", "artist_aliases")
}
_ARROW_AUDIO = schemas.arrow_schema(schemas.TRACK_AUDIO)

# Random streams, one per concern, so that each table draws only what it needs.
_PLAN, _ARTIST, _TRACK, _FEATURE, _RELEASE, _CONTEXT, _HANGUL = 0, 1, 2, 3, 4, 5, 6
# Id namespaces (3 was the images' while the source made up image URLs: not to be reused).
_ARTIST_ID, _TRACK_ID = 1, 2


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate. ``missing_features`` is the share of tracks with no audio features; ``contexts``
    listening contexts (0: none) of about ``context_size`` artists each."""

    artists: int
    seed: int = 7
    genres: int = 40
    max_tracks: int = 10
    missing_features: float = 0.01
    contexts: int = 5000
    context_size: int = 20

    def __post_init__(self):
        if self.artists < 1:
            raise ValueError(f"synthetic artists must be at least 1, got {self.artists}")
        if self.genres < 1:
            raise ValueError(f"synthetic genres must be at least 1, got {self.genres}")
        if not 1 <= self.max_tracks <= 15:
            raise ValueError(f"synthetic max_tracks must be within 1..15, got {self.max_tracks}")
        if not 0.0 <= self.missing_features < 1.0:
            raise ValueError(f"synthetic missing_features must be within [0, 1), got {self.missing_features}")
        if self.contexts < 0:
            raise ValueError(f"synthetic contexts must be at least 0, got {self.contexts}")
        if not 1 <= self.context_size <= 10_000:
            raise ValueError(f"synthetic context_size must be within 1..10000, got {self.context_size}")

    @property
    def chunks(self) -> int:
        return -(-self.artists // CHUNK_SIZE)

    @property
    def context_chunks(self) -> int:
        return -(-self.contexts // CONTEXT_CHUNK)


def generate(spark: SparkSession, spec: SyntheticSpec) -> dict[str, DataFrame]:
    """The ``artists``, ``top_tracks``, ``audio_features`` and ``artist_aliases`` tables for ``spec`` (lazy
    DataFrames), and ``artist_contexts`` when ``spec.contexts`` is not 0."""
    chunks = spark.range(spec.chunks, numPartitions=spec.chunks)
    tables = {
        table: chunks.mapInArrow(
            functools.partial(_generate_batches, spec=spec, table=table), schemas.LAKE_TABLES[table]
        )
        for table in ("artists", "top_tracks", "audio_features", "artist_aliases")
    }
    if spec.contexts:
        tables["artist_contexts"] = contexts_frame(spark, spec)
    return tables


def synthetic_contexts(
    spark: SparkSession, artists: int, rows: int, genres: int = 40, seed: int = 7, context_size: int = 20
) -> DataFrame:
    """About ``rows`` listening rows (``artist_contexts`` layout) for the ``artists`` synthetic artists of
    ``genres`` and ``seed``: ``rows / context_size`` contexts (rounded), their artist ids those that
    :func:`generate` makes for the same values. An artist drawn twice in one context is one row (its plays
    summed), so there are fewer rows than ``rows``: 0.4% fewer at 1,000,000 artists and 10,000,000 rows, 5% at
    20,000 artists and 100,000 rows, more where genres hold few artists."""
    contexts = int(round(rows / context_size)) if rows > 0 else 0
    spec = SyntheticSpec(artists=artists, seed=seed, genres=genres, contexts=contexts, context_size=context_size)
    return contexts_frame(spark, spec)


def contexts_frame(spark: SparkSession, spec: SyntheticSpec) -> DataFrame:
    """``artist_contexts`` for ``spec`` (lazy): ``spec.contexts`` contexts, made in chunks of
    :data:`CONTEXT_CHUNK` by :func:`contexts_chunk`, one Spark task each."""
    chunks = max(1, spec.context_chunks)
    return spark.range(spec.context_chunks, numPartitions=chunks).mapInArrow(
        functools.partial(_generate_batches, spec=spec, table="artist_contexts"), schemas.ARTIST_CONTEXTS
    )


def _generate_batches(batches: Iterator[pa.RecordBatch], spec: SyntheticSpec, table: str) -> Iterator[pa.RecordBatch]:
    build = {
        "artists": artists_chunk,
        "top_tracks": top_tracks_chunk,
        "audio_features": audio_features_chunk,
        "artist_contexts": contexts_chunk,
        "artist_aliases": aliases_chunk,
    }[table]
    for batch in batches:
        for chunk in batch.column(0).to_pylist():
            yield build(spec, chunk)


# ---------------------------------------------------------------- chunk builders


@dataclass(frozen=True)
class _Plan:
    """What every table of one chunk agrees on."""

    artist_index: np.ndarray  # global artist numbers
    genre: np.ndarray  # per artist
    popularity: np.ndarray  # per artist, 0..100
    track_artist: np.ndarray  # per track: position of its artist within the chunk
    track_rank: np.ndarray  # per track: 1 = most popular
    duration_ms: np.ndarray  # per track


def _rng(spec: SyntheticSpec, stream: int, chunk: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([spec.seed, stream, chunk]))


def _plan(spec: SyntheticSpec, chunk: int) -> _Plan:
    start = chunk * CHUNK_SIZE
    index = np.arange(start, min(spec.artists, start + CHUNK_SIZE), dtype=np.int64)
    rng = _rng(spec, _PLAN, chunk)
    genre, popularity = _genre_and_popularity(rng, spec.genres, index.size)
    full = rng.random(index.size) < 0.85
    tracks = np.where(full, spec.max_tracks, rng.integers(1, spec.max_tracks + 1, index.size))
    track_artist = np.repeat(np.arange(index.size), tracks)
    first = np.cumsum(tracks) - tracks
    track_rank = (np.arange(track_artist.size) - np.repeat(first, tracks) + 1).astype(np.int32)
    duration = np.clip(rng.normal(210_000, 45_000, track_artist.size), 60_000, 900_000).astype(np.int32)
    return _Plan(index, genre, popularity, track_artist, track_rank, duration)


def _genre_and_popularity(rng: np.random.Generator, genres: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first draws of a chunk's plan stream: per artist, its genre and its popularity (0..100)."""
    genre = rng.integers(0, genres, n)
    popularity = np.clip(np.rint(rng.beta(2.0, 4.0, n) * 100), 0, 100).astype(np.int32)
    return genre, popularity


def artists_chunk(spec: SyntheticSpec, chunk: int) -> pa.RecordBatch:
    plan = _plan(spec, chunk)
    rng = _rng(spec, _ARTIST, chunk)
    n = plan.artist_index.size
    ids = spotify_ids(spec.seed, _ARTIST_ID, plan.artist_index.astype(np.uint64))
    followers = np.rint(np.exp(rng.normal(2.0 + plan.popularity / 12.0, 1.0))).astype(np.int64)
    second = rng.random(n) < 0.4
    genre_names = pa.array(genre_labels(spec.genres))
    counts = np.where(second, 2, 1)
    genre_values = np.empty(int(counts.sum()), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    genre_values[offsets[:-1]] = plan.genre
    genre_values[offsets[:-1][second] + 1] = (plan.genre[second] + 1) % spec.genres
    genres = pa.ListArray.from_arrays(pa.array(offsets), genre_names.take(pa.array(genre_values)))
    hangul = hangul_names(spec, chunk, n)
    return pa.RecordBatch.from_arrays(
        [
            ids,
            pc.if_else(pa.array(hangul.chosen), hangul.names, _names(rng, n, single_word_share=0.3)),
            genres,
            pa.array(plan.popularity, pa.int32()),
            pa.array(followers, pa.int64()),
            pa.nulls(n, pa.string()),  # no picture: a made-up URL would not load
            _prefixed("https://open.spotify.com/artist/", ids),
            _constant(SOURCE, n),
        ],
        schema=_ARROW["artists"],
    )


def aliases_chunk(spec: SyntheticSpec, chunk: int) -> pa.RecordBatch:
    """One chunk of ``artist_aliases``: the romanization of each artist with a Hangul name (source ``synthetic``)."""
    start = chunk * CHUNK_SIZE
    index = np.arange(start, min(spec.artists, start + CHUNK_SIZE), dtype=np.uint64)
    hangul = hangul_names(spec, chunk, index.size)
    rows = pa.array(np.flatnonzero(hangul.chosen))
    return pa.RecordBatch.from_arrays(
        [
            spotify_ids(spec.seed, _ARTIST_ID, index).take(rows),
            hangul.romanized.take(rows),
            _constant(SOURCE, len(rows)),
        ],
        schema=_ARROW["artist_aliases"],
    )


def top_tracks_chunk(spec: SyntheticSpec, chunk: int) -> pa.RecordBatch:
    plan = _plan(spec, chunk)
    rng = _rng(spec, _TRACK, chunk)
    t = plan.track_artist.size
    artist_ids = spotify_ids(spec.seed, _ARTIST_ID, plan.artist_index.astype(np.uint64))
    track_ids = spotify_ids(spec.seed, _TRACK_ID, _track_numbers(plan))
    popularity = np.clip(plan.popularity[plan.track_artist] - 2 * plan.track_rank + rng.integers(-3, 4, t), 0, 100)
    return pa.RecordBatch.from_arrays(
        [
            artist_ids.take(pa.array(plan.track_artist)),
            track_ids,
            pa.array(plan.track_rank, pa.int32()),
            _names(rng, t, single_word_share=0.5),
            _names(rng, t, single_word_share=0.6),
            pa.nulls(t, pa.string()),  # no album picture either
            pa.array(popularity.astype(np.int32), pa.int32()),
            pa.array(plan.duration_ms, pa.int32()),
            _prefixed("https://open.spotify.com/track/", track_ids),
            _constant(SOURCE, t),
            release_dates(spec, chunk, plan),
            track_audio(_features(spec, chunk, plan)),
        ],
        schema=_ARROW["top_tracks"],
    )


def release_dates(spec: SyntheticSpec, chunk: int, plan: _Plan) -> pa.Array:
    """Per track: a date around its genre's era (artist scatter ~4 years, track scatter ~2), 1950..2025.

    Drawn from a stream of its own, so the other columns are the same as without it.
    """
    rng = _rng(spec, _RELEASE, chunk)
    era = np.random.default_rng(np.random.SeedSequence([spec.seed, 98])).uniform(1965.0, 2022.0, spec.genres)
    artist_year = era[plan.genre] + rng.normal(0.0, 4.0, plan.genre.size)
    year = np.clip(artist_year[plan.track_artist] + rng.normal(0.0, 2.0, plan.track_artist.size), 1950.0, 2025.99)
    days = np.floor((year - 1970.0) * 365.25).astype(np.int32)
    return pa.array(days, pa.date32())


@dataclass(frozen=True)
class _Features:
    """One chunk's audio features, per track of its plan, and which tracks have them."""

    columns: dict[str, pa.Array]  # every field of schemas.TRACK_AUDIO, one value per track
    kept: np.ndarray  # True where the track has features (missing_features drops the others)


def _features(spec: SyntheticSpec, chunk: int, plan: _Plan) -> _Features:
    rng = _rng(spec, _FEATURE, chunk)
    centres = genre_centres(spec)
    n, t = plan.artist_index.size, plan.track_artist.size

    def scatter(centre: np.ndarray, artist_sd: float, track_sd: float) -> np.ndarray:
        profile = centre[plan.genre] + rng.normal(0.0, artist_sd, n)
        return profile[plan.track_artist] + rng.normal(0.0, track_sd, t)

    # 0..1 features scatter in logit space: skewed genres (speechiness near 0) stay skewed, no pile-up at the bounds.
    values = {name: np.round(_sigmoid(scatter(_logit(centres[name]), 0.35, 0.45)), 3) for name in UNIT_FEATURES}
    values["loudness"] = np.round(np.clip(scatter(centres["loudness"], 1.8, 1.5), -60.0, 0.0), 3)
    values["tempo"] = np.round(np.clip(scatter(centres["tempo"], 9.0, 12.0), 40.0, 220.0), 3)
    values["key"] = rng.integers(0, 12, t).astype(np.int32)
    values["mode"] = (rng.random(t) < 0.6).astype(np.int32)
    values["time_signature"] = rng.choice(np.array([3, 4, 5], dtype=np.int32), t, p=[0.08, 0.9, 0.02])
    values["duration_ms"] = plan.duration_ms
    kept = rng.random(t) >= spec.missing_features
    columns = {f.name: pa.array(values[f.name], _ARROW_AUDIO.field(f.name).type) for f in schemas.TRACK_AUDIO.fields}
    return _Features(columns, kept)


def track_audio(features: _Features) -> pa.StructArray:
    """Per track, its features as the struct of ``top_tracks.audio_features`` (fields null where it has none)."""
    missing = pa.array(~features.kept)
    fields = [pc.if_else(missing, pa.scalar(None, column.type), column) for column in features.columns.values()]
    return pa.StructArray.from_arrays(fields, fields=list(_ARROW_AUDIO))


def audio_features_chunk(spec: SyntheticSpec, chunk: int) -> pa.RecordBatch:
    plan = _plan(spec, chunk)
    features = _features(spec, chunk, plan)
    track_ids = spotify_ids(spec.seed, _TRACK_ID, _track_numbers(plan))
    rows = pa.array(np.flatnonzero(features.kept))
    return pa.RecordBatch.from_arrays(
        [
            track_ids.take(rows),
            *[column.take(rows) for column in features.columns.values()],
            _constant(SOURCE, len(rows)),
        ],
        schema=_ARROW["audio_features"],
    )


# ---------------------------------------------------------------- listening contexts

# How a synthetic context is drawn (contexts_chunk). Each number is part of the output's definition.
CONTEXT_NOISE = 0.1  # share of a context's draws from any genre: listeners stray outside their taste
SECOND_GENRE = 0.5  # share of contexts with a second genre ...
SECOND_SHARE = 0.3  # ... which takes this share of their genre draws
SIZE_SIGMA = 0.8  # log-normal spread of context sizes: most near context_size, a few many times it
MAX_SIZE_FACTOR = 10  # a context draws at most this many times context_size artists
RANK_POWER = 2.0  # a draw takes rank floor(n * u ** RANK_POWER) of n by popularity: a genre's top 1%
# gets 10% of its draws, the median artist about 0.7 of an even share
PLAYS_MU, PLAYS_SIGMA = 2.5, 1.2  # plays per draw: 1 + a log-normal (median about 13)


@dataclass(frozen=True)
class _Catalogue:
    """The artists as contexts draw them: by genre, each genre's most popular first."""

    order: np.ndarray  # artist numbers by (genre, popularity descending, number)
    start: np.ndarray  # per genre: its first position in ``order``
    size: np.ndarray  # per genre: its artists
    by_popularity: np.ndarray  # every artist number, most popular first


@functools.lru_cache(maxsize=2)
def _catalogue(seed: int, artists: int, genres: int) -> _Catalogue:
    """The genre and popularity of every artist, drawn as :func:`_plan` draws them (the plan stream's
    first draws), chunk by chunk; kept per Python worker."""
    spec = SyntheticSpec(artists=artists, seed=seed, genres=genres)
    genre = np.empty(artists, dtype=np.int64)
    popularity = np.empty(artists, dtype=np.int32)
    for chunk in range(spec.chunks):
        start = chunk * CHUNK_SIZE
        n = min(artists, start + CHUNK_SIZE) - start
        genre[start : start + n], popularity[start : start + n] = _genre_and_popularity(
            _rng(spec, _PLAN, chunk), genres, n
        )
    numbers = np.arange(artists, dtype=np.int64)
    order = np.lexsort((numbers, -popularity, genre))
    size = np.bincount(genre, minlength=genres)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    return _Catalogue(order, start, size, np.lexsort((numbers, -popularity)))


def contexts_chunk(spec: SyntheticSpec, chunk: int) -> pa.RecordBatch:
    """One chunk of ``artist_contexts``: contexts ``chunk * CONTEXT_CHUNK ...``, each drawing a log-normal
    number of artists (mean ``context_size``) from its genre, some from a second genre and a few from any
    (see the constants above), the more popular within a genre the more often; plays as weights, summed
    where a context draws an artist twice. Ids ``synthetic:<n>`` (no person behind them: not hashed)."""
    catalogue = _catalogue(spec.seed, spec.artists, spec.genres)
    rng = _rng(spec, _CONTEXT, chunk)
    first = chunk * CONTEXT_CHUNK
    m = max(0, min(spec.contexts, first + CONTEXT_CHUNK) - first)
    mu = np.log(spec.context_size) - SIZE_SIGMA**2 / 2
    largest = max(1, min(spec.artists, MAX_SIZE_FACTOR * spec.context_size))
    sizes = np.clip(np.rint(rng.lognormal(mu, SIZE_SIGMA, m)), 1, largest).astype(np.int64)
    present = np.flatnonzero(catalogue.size > 0)
    main, other = present[rng.integers(0, present.size, (2, m))]
    two = rng.random(m) < SECOND_GENRE
    owner = np.repeat(np.arange(m), sizes)  # per draw: its context within the chunk
    d = owner.size
    genre = np.where(two[owner] & (rng.random(d) < SECOND_SHARE), other[owner], main[owner])
    in_genre = catalogue.order[catalogue.start[genre] + _rank(rng, catalogue.size[genre])]
    anywhere = catalogue.by_popularity[_rank(rng, np.full(d, spec.artists))]
    artist = np.where(rng.random(d) < CONTEXT_NOISE, anywhere, in_genre)
    plays = 1.0 + np.rint(rng.lognormal(PLAYS_MU, PLAYS_SIGMA, d))
    pairs, where = np.unique(owner * np.int64(spec.artists) + artist, return_inverse=True)
    weight = np.bincount(where.ravel(), weights=plays, minlength=pairs.size)
    context, artist = pairs // spec.artists, pairs % spec.artists
    names = pc.binary_join_element_wise("synthetic:", pa.array(first + np.arange(m)).cast(pa.string()), "")
    return pa.RecordBatch.from_arrays(
        [
            names.take(pa.array(context)),
            spotify_ids(spec.seed, _ARTIST_ID, artist.astype(np.uint64)),
            pa.array(weight, pa.float64()),
            _constant(SOURCE, pairs.size),
        ],
        schema=_ARROW["artist_contexts"],
    )


def _rank(rng: np.random.Generator, sizes: np.ndarray) -> np.ndarray:
    """Per draw, a rank below its ``sizes`` (at least 1), low ranks far likelier (:data:`RANK_POWER`)."""
    return np.floor(sizes * rng.random(sizes.size) ** RANK_POWER).astype(np.int64)


# ---------------------------------------------------------------- genres


def genre_labels(count: int) -> list[str]:
    """``count`` distinct genre names: the built-in list, numbered when more are asked for."""
    return [
        GENRE_NAMES[i % len(GENRE_NAMES)] + ("" if i < len(GENRE_NAMES) else f" {i // len(GENRE_NAMES) + 1}")
        for i in range(count)
    ]


def genre_centres(spec: SyntheticSpec) -> dict[str, np.ndarray]:
    """Each genre's centre, per feature (arrays of length ``spec.genres``)."""
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 99]))
    g = spec.genres
    talky = rng.random(g) < 0.12
    instrumental = rng.random(g) < 0.2
    return {
        "danceability": rng.uniform(0.3, 0.85, g),
        "energy": rng.uniform(0.2, 0.95, g),
        "speechiness": np.where(talky, rng.uniform(0.15, 0.4, g), rng.uniform(0.03, 0.12, g)),
        "acousticness": rng.uniform(0.02, 0.9, g),
        "instrumentalness": np.where(instrumental, rng.uniform(0.4, 0.9, g), rng.uniform(0.001, 0.08, g)),
        "liveness": rng.uniform(0.08, 0.3, g),
        "valence": rng.uniform(0.2, 0.8, g),
        "loudness": rng.uniform(-14.0, -4.0, g),
        "tempo": rng.uniform(85.0, 150.0, g),
    }


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------- ids and strings


def spotify_ids(seed: int, namespace: int, numbers: np.ndarray) -> pa.StringArray:
    """22-character base-62 ids, distinct for distinct ``numbers`` (uint64) within a namespace."""
    numbers = np.asarray(numbers, dtype=np.uint64)
    offset = _splitmix64(np.array([(seed << 8) | namespace], dtype=np.uint64))[0]
    high = _splitmix64(numbers + offset)  # a bijection of numbers: ids never collide
    low = _splitmix64(high ^ np.uint64(0x5DEECE66D))
    chars = np.concatenate([_base62(high, 11), _base62(low, 11)], axis=1)
    offsets = np.arange(0, 22 * (numbers.size + 1), 22, dtype=np.int32)
    return pa.StringArray.from_buffers(numbers.size, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _base62(values: np.ndarray, width: int) -> np.ndarray:
    out = np.empty((values.size, width), dtype=np.uint8)
    rest = values.copy()
    for position in range(width - 1, -1, -1):
        out[:, position] = _ALPHABET[rest % np.uint64(62)]
        rest //= np.uint64(62)
    return out


def _track_numbers(plan: _Plan) -> np.ndarray:
    return (plan.artist_index[plan.track_artist].astype(np.uint64) << np.uint64(4)) | plan.track_rank.astype(np.uint64)


# Hangul names: a word of the first list and one of the second, each with its romanization (Revised
# Romanization, word by word, as a band would write it). Invented: ``_TAKEN`` holds real acts' (and
# well-known organisations') names the lists could make, which are never made.
#
# Every HANGUL_STRIDE-th artist of a seeded shuffle of the catalogue gets one, and the pairs are dealt to
# them in a seeded order without repeats: names (and romanizations) are unique up to HANGUL_STRIDE x pairs
# artists (about 22,000), so a demo's Hangul query names one artist. Past that they repeat, as names do
# in real catalogues.
HANGUL_STRIDE = 14  # 1 artist in 14 (7%)
_FIRST_WORDS = (
    ("하늘", "Haneul"),
    ("바다", "Bada"),
    ("구름", "Gureum"),
    ("노을", "Noeul"),
    ("새벽", "Saebyeok"),
    ("은하", "Eunha"),
    ("푸른", "Pureun"),
    ("작은", "Jageun"),
    ("파란", "Paran"),
    ("하얀", "Hayan"),
    ("여름", "Yeoreum"),
    ("겨울", "Gyeoul"),
    ("봄비", "Bombi"),
    ("달빛", "Dalbit"),
    ("별빛", "Byeolbit"),
    ("햇살", "Haetsal"),
    ("물빛", "Mulbit"),
    ("고요", "Goyo"),
    ("소나기", "Sonagi"),
    ("오후", "Ohu"),
    ("첫눈", "Cheonnun"),
    ("바람", "Baram"),
    ("숲길", "Supgil"),
    ("골목", "Golmok"),
    ("꽃잎", "Kkonnip"),
    ("모래", "Morae"),
    ("안개", "Angae"),
    ("호수", "Hosu"),
    ("유리", "Yuri"),
    ("저녁", "Jeonyeok"),
    ("초록", "Chorok"),
    ("보라", "Bora"),
    ("단풍", "Danpung"),
    ("눈꽃", "Nunkkot"),
    ("무지개", "Mujigae"),
    ("빗방울", "Bitbangul"),
    ("들판", "Deulpan"),
    ("언덕", "Eondeok"),
    ("자정", "Jajeong"),
    ("한낮", "Hannat"),
)
_SECOND_WORDS = (
    ("소리", "Sori"),
    ("정원", "Jeongwon"),
    ("상자", "Sangja"),
    ("편지", "Pyeonji"),
    ("기차", "Gicha"),
    ("나무", "Namu"),
    ("고양이", "Goyangi"),
    ("여행", "Yeohaeng"),
    ("서랍", "Seorap"),
    ("창문", "Changmun"),
    ("노래", "Norae"),
    ("우체국", "Ucheguk"),
    ("다락방", "Darakbang"),
    ("산책", "Sanchaek"),
    ("악단", "Akdan"),
    ("극장", "Geukjang"),
    ("등대", "Deungdae"),
    ("시계", "Sigye"),
    ("책방", "Chaekbang"),
    ("정류장", "Jeongnyujang"),
    ("마을", "Maeul"),
    ("주파수", "Jupasu"),
    ("필름", "Pilleum"),
    ("공방", "Gongbang"),
    ("풍선", "Pungseon"),
    ("계단", "Gyedan"),
    ("지도", "Jido"),
    ("항구", "Hanggu"),
    ("사진관", "Sajingwan"),
    ("라디오", "Radio"),
    ("수첩", "Sucheop"),
    ("온실", "Onsil"),
    ("부엌", "Bueok"),
    ("엽서", "Yeopseo"),
    ("우산", "Usan"),
    ("자전거", "Jajeongeo"),
    ("연못", "Yeonmot"),
    ("화분", "Hwabun"),
    ("다방", "Dabang"),
    ("합창단", "Hapchangdan"),
)
_TAKEN = frozenset(
    {
        "유리상자",
        "새벽공방",
        "모래시계",
        "겨울나무",
        "여름여행",
        "하늘정원",
        "바람소리",
        "달빛소리",
        "별빛소리",
        "초록우산",
    }
)


@dataclass(frozen=True)
class _Hangul:
    """One chunk's Hangul names: which artists have one, and per artist the name and its romanization drawn."""

    chosen: np.ndarray  # True where the artist's name is Hangul
    names: pa.Array  # per artist
    romanized: pa.Array  # per artist


@functools.lru_cache(maxsize=1)
def _hangul_pairs() -> tuple[pa.StringArray, pa.StringArray]:
    pairs = [
        (first + second, f"{roman_first} {roman_second}")
        for first, roman_first in _FIRST_WORDS
        for second, roman_second in _SECOND_WORDS
        if first + second not in _TAKEN
    ]
    return pa.array([name for name, _ in pairs]), pa.array([roman for _, roman in pairs])


def _coprime_step(rng: np.random.Generator, modulus: int) -> int:
    """A step in [1, modulus) sharing no factor with ``modulus``: ``(step * i + offset) % modulus`` is then a
    bijection of 0..modulus-1."""
    while True:
        step = int(rng.integers(1, max(modulus, 2)))
        if np.gcd(step, modulus) == 1:
            return step


def hangul_names(spec: SyntheticSpec, chunk: int, n: int) -> _Hangul:
    """Which of a chunk's ``n`` artists get a Hangul name (one in ``HANGUL_STRIDE``), and the names: a pure
    function of the seed and each artist's place in the catalogue, drawn apart from the other columns (they,
    and the Latin names of the other artists, are as without them)."""
    index = np.arange(chunk * CHUNK_SIZE, chunk * CHUNK_SIZE + n, dtype=np.int64)
    names, romanized = _hangul_pairs()
    rng = _rng(spec, _HANGUL, 0)  # one stream for the whole catalogue: the shuffles must agree across chunks
    catalogue, pairs = max(spec.artists, 1), len(names)
    shuffled = (_coprime_step(rng, catalogue) * index + int(rng.integers(0, catalogue))) % catalogue
    chosen = shuffled % HANGUL_STRIDE == 0
    dealt = (_coprime_step(rng, pairs) * (shuffled // HANGUL_STRIDE) + int(rng.integers(0, pairs))) % pairs
    pick = pa.array(dealt)
    return _Hangul(chosen, names.take(pick), romanized.take(pick))


@functools.lru_cache(maxsize=1)
def _words() -> pa.StringArray:
    two = [a.capitalize() + b for a in _SYLLABLES for b in _SYLLABLES]
    three = [a.capitalize() + b + c for a in _SYLLABLES[:12] for b in _SYLLABLES for c in _SYLLABLES[::3]]
    return pa.array(two + three)


def _names(rng: np.random.Generator, count: int, single_word_share: float) -> pa.Array:
    words = _words()
    first = words.take(pa.array(rng.integers(0, len(words), count)))
    second = words.take(pa.array(rng.integers(0, len(words), count)))
    single = pa.array(rng.random(count) < single_word_share)
    return pc.if_else(single, first, pc.binary_join_element_wise(first, second, " "))


def _prefixed(prefix: str, values: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(prefix, values, "")


def _constant(value: str, count: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(count, np.int32)), pa.array([value])).cast(pa.string())
