"""popularity_proxy when no artist lacks a popularity: the artists as they are, counted, without the proxy's joins."""

from __future__ import annotations

from jobs.common import schemas
from jobs.transform.signals import popularity_proxy


def test_artists_that_all_have_a_popularity_come_back_unchanged_and_counted(spark):
    artists = spark.createDataFrame(
        [("a", 77, "A"), ("b", 0, "B"), (None, 5, "nameless")], "artist_id string, popularity int, name string"
    )
    tops = spark.createDataFrame(
        [("a", "t1", 1, "song", "album", None, 10, 200000, None, "test", None)], schemas.TOP_TRACKS
    )
    filled, how = popularity_proxy(artists, tops)
    assert how == {"artists": 3}
    assert filled.columns == artists.columns
    assert sorted(filled.collect(), key=str) == sorted(artists.collect(), key=str)


def test_no_artists_count_nothing(spark):
    artists = spark.createDataFrame([], "artist_id string, popularity int")
    tops = spark.createDataFrame([], schemas.TOP_TRACKS)
    filled, how = popularity_proxy(artists, tops)
    assert how == {} and filled.count() == 0
