"""Lake rows -> mart rows (pure transforms), name keys and the versioned DDL."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality

from jobs.common import schemas
from jobs.publish.frames import mart_artist_aliases, mart_artists, mart_related_artists, mart_top_tracks
from mart.schema import ALL_TABLES, COLUMNS, DEFAULT_REASON, REASONS, create_statements
from shared.names import name_key


@pytest.mark.parametrize(
    "typed, key",
    [
        ("  BTS ", "bts"),
        ("b t s", "bts"),
        ("ＢＴＳ", "bts"),
        ("방탄소년단", "방탄소년단"),
        ("IU\n", "iu"),
        ("Beyonce\u0301", "beyonce"),
        ("Beyoncé", "beyonce"),
        ("Tiësto", "tiesto"),
        ("Straße", "strasse"),
        ("a\u200bb", "ab"),
        ("", ""),
        (None, ""),
        ("AC/DC", "acdc"),
        ("Olivia O’Brien", "oliviaobrien"),
        ("Olivia O'Brien", "oliviaobrien"),
        ("Tyler, The Creator", "tylerthecreator"),
        ("Mø", "mo"),
        ("!!!", "!!!"),
        # Invisible characters KakaoTalk users send: Hangul fillers, the Braille blank, variation selectors, CGJ.
        ("아이유\u3164", "아이유"),
        ("\u115f\u1160블랙핑크", "블랙핑크"),
        ("IU\u2800", "iu"),
        ("IU\ufe0f", "iu"),
        ("I\u034fU", "iu"),
        ("\uffa0IU", "iu"),
        # Jamo typed one by one compose into syllables.
        ("\u1107\u1161", "바"),
    ],
)
def test_name_key_ignores_case_spacing_width_accents_punctuation_and_invisible_characters(typed, key):
    assert name_key(typed) == key


def test_name_key_is_cut_to_the_column_width():
    assert len(name_key("x" * 2000)) == 512


def artist(artist_id, name, popularity=None, genres=None, image_url=None):
    return (artist_id, name, genres, popularity, None, image_url, None, "test")


def test_mart_artists_keep_one_row_per_artist_with_keys_and_json_genres(spark):
    lake = spark.createDataFrame(
        [
            artist("a1", " Le Sserafim ", 80, ["k-pop", "girl group"], "img1"),
            artist("a1", "Old Name", 10),
            artist("a2", None, None, []),
            artist("a3", "방탄 소년단", 5),
            artist(None, "no id", 1),
        ],
        schemas.ARTISTS,
    )
    expected = spark.createDataFrame(
        [
            ("a1", "Le Sserafim", "lesserafim", "img1", None, '["k-pop","girl group"]', 80, "mifaressel", None),
            ("a2", "a2", "a2", None, None, "[]", None, "2a", None),
            ("a3", "방탄 소년단", "방탄소년단", None, None, None, 5, "단년소탄방", "\u1107\u1110\u1109\u1102\u1103"),
        ],
        "artist_id string, name string, name_key string, image_url string, spotify_url string, "
        "genres string, popularity int, rev_key string, initials string",
    )
    assert_df_equality(mart_artists(lake), expected, ignore_row_order=True, ignore_nullable=True)


def test_mart_top_tracks_are_ranked_without_gaps_and_capped(spark):
    def track(artist_id, track_id, rank):
        return (artist_id, track_id, rank, f"song {track_id}", "album", "cover", None, None, None, "test", None)

    lake = spark.createDataFrame(
        [
            track("a1", "t5", 5),
            track("a1", "t2", 2),
            track("a1", "t9", 9),
            track("a1", "t7", None),
            track("a2", "t1", 1),
            track("ghost", "t3", 1),
        ],
        schemas.TOP_TRACKS,
    )
    artists = spark.createDataFrame([("a1",), ("a2",)], "artist_id string")
    result = mart_top_tracks(lake, artists, 3).select("artist_id", "rank", "track_id")
    expected = spark.createDataFrame(
        [("a1", 1, "t2"), ("a1", 2, "t5"), ("a1", 3, "t9"), ("a2", 1, "t1")],
        "artist_id string, rank int, track_id string",
    )
    assert_df_equality(result, expected, ignore_row_order=True, ignore_nullable=True)
    assert mart_top_tracks(lake, artists, 3).columns == list(COLUMNS["top_tracks"])


def test_top_tracks_shown_are_distinct_songs(spark):
    def track(track_id, rank, name):
        return ("a1", track_id, rank, name, "album", None, None, None, None, "test", None)

    lake = spark.createDataFrame(
        [
            track("t1", 1, "Love Dive"),
            track("t2", 2, "LOVE DIVE "),
            track("t3", 3, "Love-Dive"),
            track("t4", 4, "After Like"),
            track("t5", 5, "I AM"),
        ],
        schemas.TOP_TRACKS,
    )
    artists = spark.createDataFrame([("a1",)], "artist_id string")
    rows = mart_top_tracks(lake, artists, 3).select("rank", "track_id", "name").orderBy("rank").collect()
    assert [tuple(row) for row in rows] == [(1, "t1", "Love Dive"), (2, "t4", "After Like"), (3, "t5", "I AM")]


def test_mart_aliases_skip_own_names_and_give_shared_aliases_to_the_most_popular(spark):
    artists = spark.createDataFrame(
        [("a1", "bts", 90), ("a2", "iu", 95), ("a3", "other", None)],
        "artist_id string, name_key string, popularity int",
    )
    aliases = spark.createDataFrame(
        [
            ("a1", "방탄소년단"),
            ("a1", "B T S"),
            ("a2", "아이유"),
            ("a1", "Shared"),
            ("a2", " shared"),
            ("a3", "   "),
            ("nobody", "ghost"),
        ],
        "artist_id string, alias string",
    )
    expected = spark.createDataFrame(
        [
            ("방탄소년단", "a1", "단년소탄방", "\u1107\u1110\u1109\u1102\u1103"),
            ("아이유", "a2", "유이아", "\u110b\u110b\u110b"),
            ("shared", "a2", "derahs", None),
        ],
        "alias_key string, artist_id string, rev_key string, initials string",
    )
    assert_df_equality(mart_artist_aliases(aliases, artists), expected, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize("dialect", ["mysql", "sqlite"])
def test_ddl_has_every_table_and_tags_index_names(dialect):
    for table in ALL_TABLES:
        statements = create_statements(dialect, table, f"{table}__staging", tag="abc123")
        assert statements[0].startswith(f"CREATE TABLE {table}__staging (")
        assert all("{" not in statement for statement in statements)
    assert any("ix_artists_name_key_abc123" in s for s in create_statements(dialect, "artists", tag="abc123"))
    with pytest.raises(ValueError, match="index tag"):
        create_statements(dialect, "artists", tag="x; DROP TABLE artists")


def test_the_marts_reasons_are_the_lakes():
    assert REASONS == schemas.REASONS and DEFAULT_REASON in REASONS


def test_related_rows_say_why_and_a_snapshot_or_row_without_a_reason_is_sound(spark):
    old = spark.createDataFrame([("a1", 1, "a2", 0.5)], schemas.RELATED_ARTISTS)  # before the column
    new = spark.createDataFrame(
        [
            ("a1", 1, "a2", 0.5, "listeners"),
            ("a1", 2, "a3", 0.7, None),
            ("a2", 1, "a1", 0.5, "both"),
            ("a3", 1, "a1", 0.7, "x" * 40),
        ],
        schemas.RELATED_ARTISTS_WITH_REASON,
    )
    assert mart_related_artists(old).columns == list(COLUMNS["related_artists"])
    rows = mart_related_artists(old).unionByName(mart_related_artists(new)).collect()
    assert sorted(tuple(row) for row in rows) == [
        ("a1", 1, "a2", 0.5, "listeners"),
        ("a1", 1, "a2", 0.5, "sound"),
        ("a1", 2, "a3", 0.7, "sound"),
        ("a2", 1, "a1", 0.5, "both"),
        ("a3", 1, "a1", 0.7, "x" * 16),
    ]  # unknown: kept (cut to the column) for the checks to refuse
