"""The synthetic source: deterministic, realistic ranges, lake-shaped."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from jobs.common import schemas
from jobs.sources.synthetic import (SyntheticSpec, artists_chunk, audio_features_chunk, generate,
                                    spotify_ids, top_tracks_chunk)


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
    means = tracks.merge(features, on="track_id").groupby("artist_id")[names].mean().join(
        artists.set_index("artist_id").genre)
    centres = means.groupby("genre")[names].mean()
    own = np.linalg.norm(means[names].values - centres.loc[means.genre].values, axis=1).mean()
    spread = np.linalg.norm(centres.values[:, None] - centres.values[None], axis=-1)
    assert own < spread[spread > 0].mean() / 2


def test_ids_are_distinct_per_number_and_namespace():
    numbers = np.arange(200_000, dtype=np.uint64)
    ids = spotify_ids(7, 1, numbers)
    assert len(set(ids.to_pylist())) == 200_000
    assert spotify_ids(7, 2, numbers[:10]).to_pylist() != ids[:10].to_pylist()


@pytest.mark.parametrize("field, value", [("artists", 0), ("genres", 0), ("max_tracks", 16),
                                          ("missing_features", 1.0)])
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
    assert sorted(tables["top_tracks"].toArrow().column("track_id").to_pylist()) == \
        sorted(expected.column("track_id").to_pylist())


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
    assert spread_within < 0.5 * years.std()   # the genre explains most of a track's year
