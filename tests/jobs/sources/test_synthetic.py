"""The synthetic source: deterministic, realistic ranges, lake-shaped."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from jobs.common import schemas
from jobs.sources.synthetic import (
    _TAKEN,
    CHUNK_SIZE,
    CONTEXT_CHUNK,
    HANGUL_STRIDE,
    SyntheticSpec,
    _hangul_pairs,
    aliases_chunk,
    artists_chunk,
    audio_features_chunk,
    contexts_chunk,
    generate,
    hangul_names,
    spotify_ids,
    synthetic_contexts,
    top_tracks_chunk,
)
from shared.names import initials, name_key


def test_same_seed_same_rows_other_seed_other_rows():
    spec = SyntheticSpec(artists=3000, seed=1)
    for build in (artists_chunk, top_tracks_chunk, audio_features_chunk):
        assert build(spec, 0).equals(build(SyntheticSpec(artists=3000, seed=1), 0))
        assert not build(spec, 0).equals(build(SyntheticSpec(artists=3000, seed=2), 0))


def test_tables_fit_together_and_look_like_spotify():
    spec = SyntheticSpec(artists=4000, seed=3, missing_features=0.02)
    artists = artists_chunk(spec, 0).to_pandas()
    tracks = top_tracks_chunk(spec, 0).to_pandas()
    features = audio_features_chunk(spec, 0).to_pandas()
    assert len(artists) == 4000 and artists.artist_id.is_unique
    assert artists.artist_id.str.fullmatch(r"[0-9A-Za-z]{22}").all()
    assert set(tracks.artist_id) <= set(artists.artist_id)
    per_artist = tracks.groupby("artist_id").size()
    assert per_artist.max() == 10 and per_artist.min() >= 1 and 9.0 <= per_artist.mean() <= 10.0
    assert not tracks.duplicated(["artist_id", "rank"]).any() and tracks.track_id.is_unique
    assert (tracks.groupby("artist_id")["rank"].min() == 1).all()
    assert features.track_id.is_unique and set(features.track_id) <= set(tracks.track_id)
    assert 0.95 <= len(features) / len(tracks) <= 0.99
    for name in ("danceability", "energy", "speechiness", "acousticness", "instrumentalness", "liveness", "valence"):
        assert features[name].between(0.0, 1.0).all(), name
    assert features.loudness.between(-60.0, 0.0).all() and features.loudness.median() < -3.0
    assert features.tempo.between(40.0, 220.0).all() and 90 < features.tempo.median() < 150
    assert features.key.between(0, 11).all() and set(features["mode"]) <= {0, 1}
    assert set(features.time_signature) <= {3, 4, 5}
    assert artists.popularity.between(0, 100).all() and (artists.followers >= 0).all()
    assert artists.genres.map(len).between(1, 2).all()
    merged = tracks.merge(features, on="track_id", suffixes=("", "_f"))
    assert (merged.duration_ms == merged.duration_ms_f).all()


def test_genres_make_clusters():
    # Artists of one genre are closer to each other than to artists of other genres, on average.
    spec = SyntheticSpec(artists=2000, seed=5, genres=4, missing_features=0.0)
    artists = artists_chunk(spec, 0).to_pandas()[["artist_id", "genres"]]
    artists["genre"] = artists.genres.map(lambda g: g[0])
    tracks = top_tracks_chunk(spec, 0).to_pandas()[["artist_id", "track_id"]]
    features = audio_features_chunk(spec, 0).to_pandas()
    names = ["danceability", "energy", "acousticness", "valence"]
    means = (
        tracks.merge(features, on="track_id")
        .groupby("artist_id")[names]
        .mean()
        .join(artists.set_index("artist_id").genre)
    )
    centres = means.groupby("genre")[names].mean()
    own = np.linalg.norm(means[names].values - centres.loc[means.genre].values, axis=1).mean()
    spread = np.linalg.norm(centres.values[:, None] - centres.values[None], axis=-1)
    assert own < spread[spread > 0].mean() / 2


def test_ids_are_distinct_per_number_and_namespace():
    numbers = np.arange(200_000, dtype=np.uint64)
    ids = spotify_ids(7, 1, numbers)
    assert len(set(ids.to_pylist())) == 200_000
    assert spotify_ids(7, 2, numbers[:10]).to_pylist() != ids[:10].to_pylist()


@pytest.mark.parametrize(
    "field, value",
    [
        ("artists", 0),
        ("genres", 0),
        ("max_tracks", 16),
        ("missing_features", 1.0),
        ("contexts", -1),
        ("context_size", 0),
    ],
)
def test_bad_spec_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        SyntheticSpec(**{"artists": 10, field: value})


def test_spark_tables_have_the_lake_schemas(spark):
    tables = generate(spark, SyntheticSpec(artists=120, seed=9))
    for name, frame in tables.items():
        assert frame.schema == schemas.LAKE_TABLES[name]
    assert tables["artists"].count() == 120
    assert tables["top_tracks"].select("artist_id").distinct().count() == 120
    expected = pa.Table.from_batches([top_tracks_chunk(SyntheticSpec(artists=120, seed=9), 0)])
    assert sorted(tables["top_tracks"].toArrow().column("track_id").to_pylist()) == sorted(
        expected.column("track_id").to_pylist()
    )


def test_release_dates_gather_by_genre_without_changing_the_other_columns():
    spec = SyntheticSpec(artists=3000, seed=4, genres=5)
    batch = top_tracks_chunk(spec, 0)
    assert batch.schema.names[-2:] == ["release_date", "audio_features"]
    years = np.array([d.year for d in batch.column("release_date").to_pylist()])
    assert 1950 <= years.min() and years.max() <= 2025
    from jobs.sources.synthetic import _plan

    plan = _plan(spec, 0)
    genre_of_track = plan.genre[plan.track_artist]
    spread_within = np.mean([years[genre_of_track == g].std() for g in range(5)])
    assert spread_within < 0.5 * years.std()  # the genre explains most of a track's year


def test_contexts_are_deterministic_and_name_the_synthetic_artists():
    spec = SyntheticSpec(artists=3000, seed=1, contexts=400)
    batch = contexts_chunk(spec, 0)
    assert batch.equals(contexts_chunk(SyntheticSpec(artists=3000, seed=1, contexts=400), 0))
    assert not batch.equals(contexts_chunk(SyntheticSpec(artists=3000, seed=2, contexts=400), 0))
    assert batch.schema == schemas.arrow_schema(schemas.ARTIST_CONTEXTS)
    rows = batch.to_pandas()
    assert set(rows.artist_id) <= set(artists_chunk(spec, 0).column("artist_id").to_pylist())
    assert set(rows.context_id) == {f"synthetic:{n}" for n in range(400)} and set(rows.source) == {"synthetic"}
    assert not rows.duplicated(["context_id", "artist_id"]).any()
    assert (rows.weight >= 1).all() and (rows.weight == rows.weight.round()).all()  # play counts


def test_contexts_keep_to_one_or_two_genres_and_popular_artists_are_in_many():
    spec = SyntheticSpec(artists=4000, seed=5, genres=20, contexts=1000, context_size=20)
    artists = artists_chunk(spec, 0).to_pandas()
    genre = dict(zip(artists.artist_id, artists.genres.map(lambda g: g[0])))
    rows = contexts_chunk(spec, 0).to_pandas()
    rows["genre"] = rows.artist_id.map(genre)
    two_genres = rows.groupby("context_id").genre.agg(lambda g: g.value_counts(normalize=True).iloc[:2].sum())
    assert two_genres.mean() > 0.85  # ~0.1 strays from any genre
    sizes = rows.groupby("context_id").size()
    assert 15 <= sizes.mean() <= 20 and sizes.max() > 2 * sizes.median()
    per_artist = rows.groupby("artist_id").size().reindex(artists.artist_id, fill_value=0)
    assert per_artist.median() >= 2 and (per_artist > 0).mean() > 0.8  # most artists, in a few contexts
    assert per_artist.max() > 10 * per_artist.median()  # a few, in many
    popular = artists.set_index("artist_id").popularity
    assert per_artist[popular >= popular.quantile(0.9)].mean() > 2 * per_artist[popular <= popular.median()].mean()


def test_contexts_are_made_in_chunks_of_their_own():
    spec = SyntheticSpec(artists=50, seed=3, contexts=CONTEXT_CHUNK + 5)
    assert spec.context_chunks == 2
    assert set(contexts_chunk(spec, 1).column("context_id").to_pylist()) == {
        f"synthetic:{CONTEXT_CHUNK + n}" for n in range(5)
    }


def test_synthetic_contexts_in_spark_are_the_chunks_rows(spark):
    frame = synthetic_contexts(spark, artists=300, rows=2000, genres=5, seed=3)
    assert frame.schema == schemas.ARTIST_CONTEXTS
    expected = contexts_chunk(SyntheticSpec(artists=300, seed=3, genres=5, contexts=100), 0)
    assert 1400 <= expected.num_rows <= 2000  # a context's repeated draws are one row: many in genres of 60
    assert sorted(frame.toArrow().to_pylist(), key=str) == sorted(expected.to_pylist(), key=str)
    assert "artist_contexts" not in generate(spark, SyntheticSpec(artists=10, contexts=0))


def test_a_few_artists_have_invented_hangul_names_with_their_romanization_as_an_alias():
    spec = SyntheticSpec(artists=4000, seed=7)
    names = artists_chunk(spec, 0).to_pandas().set_index("artist_id").name
    aliases = aliases_chunk(spec, 0).to_pandas()
    hangul = names[names.map(lambda n: all("\uac00" <= ch <= "\ud7a3" for ch in n))]
    assert 0.05 <= len(hangul) / len(names) <= 0.1
    assert sorted(aliases.artist_id) == sorted(hangul.index) and set(aliases.source) == {"synthetic"}
    assert aliases.alias.str.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+").all()  # 하늘소리: Haneul Sori
    assert hangul.nunique() > 150 and not set(hangul) & _TAKEN  # varied, and no real act's name
    assert all(
        name_key(alias) != name_key(hangul[a]) and initials(name_key(hangul[a]))
        for a, alias in zip(aliases.artist_id, aliases.alias)
    )
    assert aliases_chunk(SyntheticSpec(artists=4000, seed=7), 0).equals(aliases_chunk(spec, 0))
    assert not aliases_chunk(SyntheticSpec(artists=4000, seed=8), 0).equals(aliases_chunk(spec, 0))


def test_a_demos_hangul_names_and_romanizations_each_name_one_artist_across_chunks():
    """Up to HANGUL_STRIDE x pairs artists (about 22,000: make demo's 20,000) no two artists share a Hangul
    name or a romanization, over the catalogue's chunks; past that, names repeat and the share holds."""
    spec = SyntheticSpec(artists=CHUNK_SIZE + 2000, seed=7)
    names, romanized = [], []
    for chunk in (0, 1):
        size = CHUNK_SIZE if chunk == 0 else 2000
        hangul = hangul_names(spec, chunk, size)
        names += hangul.names.filter(pa.array(hangul.chosen)).to_pylist()
        romanized += hangul.romanized.filter(pa.array(hangul.chosen)).to_pylist()
    assert len(names) == -(-spec.artists // HANGUL_STRIDE)  # one in HANGUL_STRIDE, exactly
    assert len(set(names)) == len(_hangul_pairs()[0])  # more artists than pairs: every pair dealt, some again
    demo = SyntheticSpec(artists=20_000, seed=7)
    hangul = hangul_names(demo, 0, 20_000)
    assert hangul.chosen.sum() == -(-20_000 // HANGUL_STRIDE)
    dealt = hangul.names.filter(pa.array(hangul.chosen)).to_pylist()
    dealt_roman = hangul.romanized.filter(pa.array(hangul.chosen)).to_pylist()
    assert len(set(dealt)) == len(dealt) and len(set(dealt_roman)) == len(dealt_roman)


def test_hangul_names_change_nothing_but_the_names_of_a_few_artists():
    """The names come from a stream of their own: every other column, and every other artist's name, are
    those the generator made before it had Hangul names (the golden fixtures of tests/fixtures still hold)."""
    spec = SyntheticSpec(artists=3000, seed=7)
    artists = artists_chunk(spec, 0).to_pandas()
    chosen = hangul_names(spec, 0, 3000).chosen
    assert artists.name[~chosen].str.fullmatch(r"[A-Z][a-z]+( [A-Z][a-z]+)?").all()
    before = ["Lorika", "Neti Zezean", "Lotibo Tivuki", "Zekara", "Mimonu"]  # the first five, without Hangul
    assert [n for n, hangul in zip(artists.name.iloc[:5], chosen[:5]) if not hangul] == [
        n for n, hangul in zip(before, chosen[:5]) if not hangul
    ]
    assert artists.artist_id.iloc[0] == "8AKGIYD4MWSApkeDTePDnq" and artists.popularity.iloc[:3].tolist() == [
        54,
        17,
        31,
    ]


def test_no_made_up_picture_urls():
    spec = SyntheticSpec(artists=300, seed=7)
    assert artists_chunk(spec, 0).column("image_url").null_count == 300
    tracks = top_tracks_chunk(spec, 0)
    assert tracks.column("album_image_url").null_count == tracks.num_rows


def test_ingest_writes_the_romanizations_as_aliases_the_publish_keys(spark, tmp_path):
    """synthetic -> the lake's artist_aliases (source synthetic) -> the mart's artist_aliases: the key a
    romanized query (``haneul sori``) is looked up by."""
    from jobs import ingest
    from jobs.common.lake import Lake
    from jobs.publish.frames import mart_artist_aliases, with_keys

    lake_dir = str(tmp_path / "lake")
    assert (
        ingest.main(
            [
                "--source",
                "synthetic",
                "--artists",
                "300",
                "--set",
                "synthetic.contexts=0",
                "--lake",
                lake_dir,
                "--dt",
                "2026-12-01",
            ]
        )
        == 0
    )
    lake = Lake(spark, lake_dir)
    aliases = lake.read("artist_aliases", "2026-12-01")
    expected = aliases_chunk(SyntheticSpec(artists=300), 0).to_pylist()
    assert (
        sorted(tuple(r) for r in aliases.select("artist_id", "alias", "source").collect())
        == sorted((r["artist_id"], r["alias"], r["source"]) for r in expected)
        and expected
    )
    artists = lake.read("artists", "2026-12-01").transform(lambda frame: with_keys(frame, "name", "name_key"))
    keyed = {r.alias_key: r.artist_id for r in mart_artist_aliases(aliases, artists).collect()}
    for row in expected:
        assert keyed[name_key(row["alias"])] in {r["artist_id"] for r in expected if r["alias"] == row["alias"]}
