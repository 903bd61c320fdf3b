"""Unit tests of the Spotify source's pure parts: which search hit a name means, settings checks."""

from __future__ import annotations

import pytest

from jobs.common.errors import ConfigError
from jobs.sources.spotify import SPOTIFY_ID
from jobs.sources.spotify_settings import SpotifySettings
from shared.names import closest_name

CREDENTIALS = {"SPOTIPY_CLIENT_ID": "id", "SPOTIPY_CLIENT_SECRET": "secret"}


@pytest.mark.parametrize(
    "typed, names, expected",
    [
        ("IU", ["IU", "IU Tribute"], 0),
        ("  iu ", ["I.U.", "IU"], 0),  # punctuation is optional: I.U. has IU's key
        ("  iu ", ["IU Tribute", "IU"], 1),  # the same key wins over the first hit
        ("NewJaens", ["New Jeans Fan", "NewJeans"], 1),  # a typo close to a hit: the closest one
        ("Fake Band 7", ["Fake Artist 7", "Fake Artist 70"], None),  # search answered another artist
        ("qqqqqq", ["Queen", "Q-Tip"], None),
        ("아이유", ["IU", "IU Tribute"], 0),  # another script: search's first hit
        ("아이유", ["아이유 노래방"], None),
        ("BLACKPINK", ["블랙핑크"], 0),
        ("Adele", ["Zoé", "Adele Fan"], None),  # an accent is not another script
        ("Fake Band", ["Beyoncé"], None),
        ("Royksopp", ["Röyksopp"], 0),  # one letter apart: close enough
        ("米津玄師", ["Kenshi Yonezu"], 0),
        ("112", ["Ilya"], None),  # digits have no script: no free pass
        ("", ["IU"], None),
        ("IU", [], None),
    ],
)
def test_closest_name_takes_only_a_hit_close_to_what_was_typed(typed, names, expected):
    assert closest_name(typed, names) == expected


def test_the_chatbot_and_the_ingest_share_the_rule():
    from chatbot_lambda.spotify import best_hit

    hits = [{"id": "a", "name": "New Jeans Fan"}, {"id": "b", "name": "NewJeans"}]
    assert best_hit("NewJaens", hits)["id"] == "b" and best_hit("Fake Band 7", hits) is None


@pytest.mark.parametrize("limit", [0, 51, -1])
def test_a_search_limit_outside_1_to_50_is_refused(limit):
    with pytest.raises(ConfigError, match=f"spotify.search_limit must be between 1 and 50.*not {limit}"):
        SpotifySettings.from_config({"spotify": {"search_limit": limit}}, CREDENTIALS)


def test_search_limits_and_waits_within_bounds_are_taken():
    assert SpotifySettings.from_config({"spotify": {"search_limit": 1}}, CREDENTIALS).search_limit == 1
    settings = SpotifySettings.from_config({"spotify": {"search_limit": "10", "max_rate_limit_waits": 3}}, CREDENTIALS)
    assert (settings.search_limit, settings.max_rate_limit_waits) == (10, 3)
    assert SpotifySettings.from_config({"spotify": {}}, CREDENTIALS).max_rate_limit_waits == 10
    with pytest.raises(ConfigError, match="max_rate_limit_waits must be 0 or more"):
        SpotifySettings.from_config({"spotify": {"max_rate_limit_waits": -1}}, CREDENTIALS)


@pytest.mark.parametrize(
    "text, valid",
    [
        ("0" * 22, True),
        ("06HL4z0CvFAxyc27GXpf02", True),
        ("06HL4z0CvFAxyc27GXpf02\n", False),
        ("06HL4z0CvFAxyc27GXpf0", False),
        ("spotify:artist:06HL4z0CvFAxyc27GXpf02", False),
        ("06HL4z0CvFAxyc27GXpf0-", False),
    ],
)
def test_spotify_ids_are_22_base62_characters_exactly(text, valid):
    assert bool(SPOTIFY_ID.match(text)) is valid


def test_top_track_rows_keep_the_album_release_date_at_any_precision():
    import datetime

    from jobs.sources.spotify_snapshot import top_track_rows

    tracks = [
        {"id": "t1", "album": {"release_date": "2019-06-14", "release_date_precision": "day"}},
        {"id": "t2", "album": {"release_date": "2008", "release_date_precision": "year"}},
        {"id": "t3", "album": {"release_date": "2011-03"}},
        {"id": "t4", "album": {}},
        {"id": "t5", "album": {"release_date": "0000"}},
    ]
    assert [row[-1] for row in top_track_rows("a", tracks)] == [
        datetime.date(2019, 6, 14),
        datetime.date(2008, 1, 1),
        datetime.date(2011, 3, 1),
        None,
        None,
    ]


def test_each_top_track_row_gets_its_track_s_first_feature_row_once_per_artist():
    from jobs.sources.spotify_snapshot import FEATURE_FIELDS, feature_row, with_track_audio

    tops = [("a", "t1", 1), ("a", "t2", 2), ("b", "t1", 1), ("a", "t1", 3)]
    features = [feature_row({"id": "t1", "energy": 0.5, "key": 5}), feature_row({"id": "t1", "energy": 0.9})]
    rows = with_track_audio(tops, features)
    assert [row[:3] for row in rows] == [("a", "t1", 1), ("a", "t2", 2), ("b", "t1", 1)]  # (a, t1) once
    first = dict(zip(FEATURE_FIELDS, rows[0][3]))
    assert (first["energy"], first["key"], first["tempo"]) == (0.5, 5, None)  # the first row wins
    assert rows[1][3] == (None,) * len(FEATURE_FIELDS) and rows[2][3] == rows[0][3]
