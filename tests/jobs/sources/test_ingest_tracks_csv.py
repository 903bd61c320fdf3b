"""tracks-csv ingest: small files in both public layouts, written here, mapped onto the lake tables."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality

from jobs import ingest
from jobs.common import schemas
from jobs.common.errors import SnapshotError
from jobs.common.lake import Lake
from tests.support.tracks_csv_data import FEATURES, SONGS_1_2M_HEADER, songs_1_2m, write

DT = "2026-11-21"


def tracks_600k(tmp_path):
    header = [
        "id",
        "name",
        "popularity",
        "duration_ms",
        "explicit",
        "artists",
        "id_artists",
        "release_date",
        "danceability",
        "energy",
        "key",
        "loudness",
        "mode",
        "speechiness",
        "acousticness",
        "instrumentalness",
        "liveness",
        "valence",
        "tempo",
        "time_signature",
    ]
    rows = [
        [
            f"p{n}",
            f"Hit {n}",
            str(n * 10),
            "180000",
            "0",
            "['IU']",
            "['CCCCCCCCCCCCCCCCCCCCCC']",
            "2019" if n % 2 else f"2020-05-1{n}",
            *FEATURES,
            "4",
        ]
        for n in range(4)
    ]
    tracks = write(tmp_path / "tracks.csv", header, rows)
    artists = write(
        tmp_path / "artists.csv",
        ["id", "followers", "genres", "name", "popularity"],
        [["CCCCCCCCCCCCCCCCCCCCCC", "100.0", "['k-pop', 'k-ballad']", "아이유", "88"]],
    )
    return tracks, artists


def run_ingest(lake_dir, *argv):
    assert ingest.main(["--source", "tracks-csv", "--lake", lake_dir, "--dt", DT, *argv]) == 0


def test_1_2m_layout_ranks_by_recency_and_caps_at_10(spark, tmp_path):
    lake_dir = str(tmp_path / "lake")
    run_ingest(lake_dir, "--tracks", songs_1_2m(tmp_path))
    lake = Lake(spark, lake_dir)
    artists = {r.artist_id: r for r in lake.read("artists", DT).collect()}
    assert {a: r.name for a, r in artists.items()} == {
        "AAAAAAAAAAAAAAAAAAAAAA": "Artist A",
        "BBBBBBBBBBBBBBBBBBBBBB": "B's Band",
    }
    tops = lake.read("top_tracks", DT)
    a_tracks = [r.track_id for r in tops.where("artist_id = 'AAAAAAAAAAAAAAAAAAAAAA'").orderBy("rank").collect()]
    assert a_tracks == [f"t{n:02d}" for n in range(11, 1, -1)]  # the 10 newest
    assert [(r.track_id, r.rank, r.name) for r in tops.where("artist_id = 'BBBBBBBBBBBBBBBBBBBBBB'").collect()] == [
        ("t03", 1, "Song, 3")
    ]
    features = lake.read("audio_features", DT)
    assert features.count() == 13
    row = features.where("track_id = 't05'").drop("dt").collect()[0]
    assert (row.key, row.loudness, row.time_signature, row.duration_ms, row.source) == (
        5,
        -7.5,
        4,
        200000,
        "tracks-csv",
    )


def test_600k_layout_ranks_by_popularity_with_artist_names_and_genres(spark, tmp_path):
    tracks, artists = tracks_600k(tmp_path)
    lake_dir = str(tmp_path / "lake")
    run_ingest(lake_dir, "--tracks", tracks, "--artists-csv", artists)
    lake = Lake(spark, lake_dir)
    expected = spark.createDataFrame(
        [
            (
                "CCCCCCCCCCCCCCCCCCCCCC",
                "아이유",
                ["k-pop", "k-ballad"],
                88,
                100,
                None,
                "https://open.spotify.com/artist/CCCCCCCCCCCCCCCCCCCCCC",
                "tracks-csv",
            )
        ],
        schemas.ARTISTS,
    )
    assert_df_equality(lake.read("artists", DT).drop("dt"), expected, ignore_nullable=True)
    ranked = [(r.track_id, r.rank) for r in lake.read("top_tracks", DT).orderBy("rank").collect()]
    assert ranked == [("p3", 1), ("p2", 2), ("p1", 3), ("p0", 4)]


def test_each_top_track_row_carries_its_features_once_per_listed_artist(spark, tmp_path):
    """What the similarity job reads instead of joining audio_features (schemas.TOP_TRACKS_WITH_AUDIO)."""
    from jobs.sources.tracks_csv import read_tracks_csv
    from jobs.transform.signals import artist_signals, features_on_tracks

    rows = [
        [
            "t1",
            "Twice",
            "Album",
            "al",
            "['Artist A', 'Artist A']",
            "['AAAAAAAAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAAAAAAAAAA']",
            1,
            1,
            "False",
            *FEATURES,
            "200000",
            "4.0",
            2001,
            "2001",
        ],
        [
            "t2",
            "No features",
            "Album",
            "al",
            "['Artist A']",
            "['AAAAAAAAAAAAAAAAAAAAAA']",
            1,
            1,
            "False",
            *[""] * len(FEATURES),
            "",
            "",
            2002,
            "2002",
        ],
    ]
    tables = read_tracks_csv(spark, {"tracks": write(tmp_path / "tracks.csv", SONGS_1_2M_HEADER, rows)})
    tops = tables["top_tracks"]
    assert [(r.track_id, r.rank) for r in tops.orderBy("rank").collect()] == [("t2", 1), ("t1", 2)]
    on_row = tops.where("track_id = 't1'").first().audio_features.asDict()
    kept = tables["audio_features"].where("track_id = 't1'").first().asDict()
    assert on_row == {name: kept[name] for name in on_row}
    assert set(tops.where("track_id = 't2'").first().audio_features.asDict().values()) == {None}
    assert features_on_tracks(tops)
    signals = ["energy", "tempo", "track_count", "release_year"]
    assert_df_equality(
        artist_signals(tops, None, tables["artists"], signals),
        artist_signals(tops.drop("audio_features"), tables["audio_features"], tables["artists"], signals),
        ignore_row_order=True,
    )


def test_rerunning_replaces_the_dt(spark, tmp_path):
    lake_dir = str(tmp_path / "lake")
    path = songs_1_2m(tmp_path)
    run_ingest(lake_dir, "--tracks", path)
    run_ingest(lake_dir, "--tracks", path)
    assert Lake(spark, lake_dir).read("top_tracks", DT).count() == 11


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "tracks-csv needs a file"),
        (["--tracks", "/nonexistent/tracks.csv"], "cannot read /nonexistent/tracks.csv"),
    ],
)
def test_bad_files_exit_2_with_a_reason(spark, tmp_path, capsys, argv, message):
    assert ingest.main(["--source", "tracks-csv", "--lake", str(tmp_path / "lake"), "--dt", DT, *argv]) == 2
    assert message in capsys.readouterr().err


def test_an_unknown_layout_is_named(spark, tmp_path, capsys):
    path = write(tmp_path / "other.csv", ["id", "name", "artists"], [["x", "y", "['z']"]])
    assert ingest.main(["--source", "tracks-csv", "--lake", str(tmp_path / "lake"), "--dt", DT, "--tracks", path]) == 2
    assert "neither an 'artist_ids' column" in capsys.readouterr().err


def test_stray_values_become_null_instead_of_failing_the_job(spark, tmp_path, capsys):
    artist = ("['Artist A']", "['AAAAAAAAAAAAAAAAAAAAAA']")
    good = ["g1", "Good", "Album", "al", *artist, 1, 1, "False", *FEATURES, "200000", "4.0", 2003, "2003-05"]
    stray = [
        "s1",
        "Stray",
        "Album",
        "al",
        *artist,
        1,
        1,
        "False",
        "n/a",
        "0.6",
        "5.0",
        "loud",
        "1",
        "0.05",
        "0.1",
        "0.0",
        "0.2",
        "0.7",
        "120.0",
        "",
        "four",
        2001,
        "unknown",
    ]
    lake_dir = str(tmp_path / "lake")
    unlinked = ["u1", "Unlinked", "Album", "al", "not a list", "[]", 1, 1, "False", *FEATURES, "1", "4", 2001, "2001"]
    run_ingest(
        lake_dir,
        "--tracks",
        write(tmp_path / "stray.csv", SONGS_1_2M_HEADER, [good, stray, good, unlinked, [""] + good[1:]]),
    )
    assert (
        "tracks-csv summary: 5 rows in the file (columns it lacks, null throughout: popularity); skipped: 1 without an id, 1 repeating an id; unreadable list "
        "cells (read as empty): 1; not linked to any artist (artist list empty or unreadable): 1; kept with null "
        "features: 1 (a missing or unreadable value); values that did not read as their column's type, made null: "
        "release_date 1, danceability 1, loudness 1, time_signature 1"
    ) in capsys.readouterr().err
    lake = Lake(spark, lake_dir)
    features = {r.track_id: r for r in lake.read("audio_features", DT).collect()}
    assert (
        features["s1"].danceability,
        features["s1"].loudness,
        features["s1"].key,
        features["s1"].duration_ms,
        features["s1"].time_signature,
    ) == (None, None, 5, None, None)
    assert features["g1"].danceability == 0.5
    # "2003-05" reads as May 2003, "unknown" as no date: the dated track ranks first.
    assert [r.track_id for r in lake.read("top_tracks", DT).orderBy("rank").collect()] == ["g1", "s1"]


def test_a_run_that_dies_while_writing_leaves_its_dt_unfinished_until_rerun(spark, tmp_path, monkeypatch):
    lake_dir = str(tmp_path / "lake")
    path = songs_1_2m(tmp_path)
    run_ingest(lake_dir, "--tracks", path)
    lake = Lake(spark, lake_dir)
    assert [
        (r.state, r.source, r.rows) for r in spark.read.format("delta").load(lake.path("ingest_log")).collect()
    ] == [("complete", "tracks-csv", {"artists": 2, "top_tracks": 11, "audio_features": 13})]

    real = ingest.tracks_csv_frames

    def dies_on_the_second_table(spark_, config):
        frames = real(spark_, config)
        from pyspark.sql import functions as F

        boom = F.udf(lambda track_id: 1 // 0, "int")  # evaluated only when the table is written
        frames["top_tracks"] = frames["top_tracks"].withColumn("rank", boom("track_id"))
        return frames

    monkeypatch.setattr(ingest, "tracks_csv_frames", dies_on_the_second_table)
    with pytest.raises(Exception, match="ZeroDivisionError"):  # a traceback and exit status 1
        ingest.main(["--source", "tracks-csv", "--lake", lake_dir, "--dt", DT, "--tracks", path])
    with pytest.raises(SnapshotError, match=f"dt={DT} of the lake is unfinished: an ingest from tracks-csv"):
        lake.read("artists", DT)
    assert lake.snapshots("artists") == []

    monkeypatch.setattr(ingest, "tracks_csv_frames", real)
    run_ingest(lake_dir, "--tracks", path)
    assert lake.read("top_tracks", DT).count() == 11 and lake.unfinished() == {}


# -- TidyTuesday spotify_songs.csv, hardening ------------------------------------------------------------

TIDY_HEADER = [
    "track_id",
    "track_name",
    "track_artist",
    "track_popularity",
    "track_album_id",
    "track_album_name",
    "track_album_release_date",
    "playlist_name",
    "playlist_id",
    "playlist_genre",
    "playlist_subgenre",
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
]
AUDIO = ["0.5", "0.6", "5", "-7.5", "1", "0.05", "0.1", "0.0", "0.2", "0.7", "120.0", "200000"]


def tidy_row(track_id, name, artist, popularity, released, genre, subgenre):
    return [track_id, name, artist, popularity, "al", "Album", released, "Mix", "pl", genre, subgenre, *AUDIO]


def tables_of(spark, caplog, **options):
    from jobs.sources.tracks_csv import read_tracks_csv

    with caplog.at_level("INFO", logger="jobs.sources.tracks_csv"):
        tables = read_tracks_csv(spark, options)
    return {name: frame.collect() for name, frame in tables.items()}, caplog.text


def test_tidytuesday_layout_names_artists_by_derived_ids_with_playlist_genres(spark, tmp_path, caplog):
    import datetime
    import hashlib

    rows = [
        tidy_row("t1", "Hit", "Ed Sheeran", "80", "2019-06-14", "pop", "dance pop"),
        tidy_row(
            "t1", "Hit", "Ed Sheeran", "80", "2019-06-14", "r&b", "urban contemporary"
        ),  # same track, other playlist
        tidy_row("t2", "Old", "ed sheeran ", "20", "14-06-2011", "pop", "post-teen pop"),
        tidy_row("t3", "Solo", "IU", "", "2008", "pop", "k-pop"),
        tidy_row("t4", "Nobody", "", "5", "2001-01-01", "rock", "hard rock"),
    ]
    path = write(tmp_path / "spotify_songs.csv", TIDY_HEADER, rows)
    tables, text = tables_of(spark, caplog, tracks=path)
    ed = hashlib.sha256(b"ed sheeran").hexdigest()[:22]
    iu = hashlib.sha256(b"iu").hexdigest()[:22]
    artists = {r.artist_id: (r.name, r.genres, r.popularity) for r in tables["artists"]}
    assert artists == {
        ed: ("Ed Sheeran", ["dance pop", "pop", "post-teen pop", "r&b", "urban contemporary"], None),
        iu: ("IU", ["k-pop", "pop"], None),
    }
    tops = sorted((r.artist_id, r.rank, r.track_id, r.popularity, r.release_date) for r in tables["top_tracks"])
    assert tops == [
        (ed, 1, "t1", 80, datetime.date(2019, 6, 14)),
        (ed, 2, "t2", 20, datetime.date(2011, 6, 14)),
        (iu, 1, "t3", None, datetime.date(2008, 1, 1)),
    ]
    assert sorted(r.track_id for r in tables["audio_features"]) == ["t1", "t2", "t3", "t4"]
    assert "1 repeating an id" in text and "not linked to any artist (artist list empty or unreadable): 1" in text
    assert "made null: none" in text  # 14-06-2011 is a date, an empty popularity is no error
    assert "null throughout: time_signature);" in text and "kept with null features: 0" in text


def test_a_renamed_tidytuesday_copy_without_track_ids_reads_too(spark, tmp_path, caplog):
    header = [
        "Track_Name",
        "artist_name",
        "genre",
        "danceability",
        "energy",
        "loudness",
        "speechiness",
        "acousticness",
        "instrumentalness",
        "popularity",
    ]
    rows = [
        ["A", "Band", "rock", "0.1", "0.2", "-5", "0.1", "0.2", "0.0", "50"],
        ["B", "Band", "metal", "0.3", "0.4", "-6", "0.1", "0.2", "0.0", "60"],
        ["A", "Other", "rock", "0.1", "0.2", "-5", "0.1", "0.2", "0.0", "10"],
    ]
    tables, _ = tables_of(spark, caplog, tracks=write(tmp_path / "copy.csv", header, rows))
    assert sorted((r.name, r.genres) for r in tables["artists"]) == [("Band", ["metal", "rock"]), ("Other", ["rock"])]
    ids = [r.track_id for r in tables["top_tracks"]]
    assert len(set(ids)) == 3 and all(len(i) == 22 for i in ids)  # same name, other artist: another track
    band = sorted((r.rank, r.name) for r in tables["top_tracks"] if r.popularity in (50, 60))
    assert band == [(1, "B"), (2, "A")]


def test_unreadable_list_cells_become_empty_lists_and_are_counted(spark, tmp_path, caplog):
    artist = "['AAAAAAAAAAAAAAAAAAAAAA']"
    cells = ["[{[]: 1}]", "[" * 5000 + "]" * 5000, "['x', " + "'y', " * 5000 + "]", "[[1, 2]]", "{'a': 1}"]
    rows = [
        [
            f"u{n}",
            "Odd",
            "Album",
            "al",
            cell,
            artist if n % 2 else cell,
            1,
            1,
            "False",
            *FEATURES,
            "200000",
            "4.0",
            2001,
            "2001",
        ]
        for n, cell in enumerate(cells)
    ]
    rows.append(
        ["ok", "Fine", "Album", "al", "['Artist A']", artist, 1, 1, "False", *FEATURES, "200000", "4.0", 2001, "2001"]
    )
    tables, text = tables_of(spark, caplog, tracks=write(tmp_path / "odd.csv", SONGS_1_2M_HEADER, rows))
    assert "unreadable list cells (read as empty): 8" in text  # every cell above, in either list column
    assert "not linked to any artist (artist list empty or unreadable): 3" in text
    # u1 and u3 keep their readable artist ids (names unreadable: no name from them).
    assert sorted(r.track_id for r in tables["top_tracks"]) == ["ok", "u1", "u3"]
    assert [r.name for r in tables["artists"]] == ["Artist A"]


def test_dates_in_common_forms_are_read_and_every_nulled_value_is_counted(spark, tmp_path, caplog):
    import datetime

    forms = {
        "d1": "14-06-2019",
        "d2": "14.06.2019",
        "d3": "2019/06/14",
        "d4": "06/14/2019",
        "d5": "2019-06-14",
        "d6": "2019-06",
        "d7": "2019",
        "d8": "junk",
        "d9": "31-02-2019",
        "d10": "14/06/2019",
        "d11": "03/05/2019",
    }  # day first when the month cannot be; US when both can
    rows = [
        [
            tid,
            "Song",
            "Album",
            "al",
            "['Artist A']",
            "['AAAAAAAAAAAAAAAAAAAAAA']",
            1,
            1,
            "False",
            *FEATURES,
            "200000",
            "4.0",
            2019,
            value,
        ]
        for tid, value in forms.items()
    ]
    rows[0][9] = "lots"  # danceability
    tables, text = tables_of(
        spark, caplog, tracks=write(tmp_path / "dates.csv", SONGS_1_2M_HEADER, rows), max_tracks=20
    )
    dates = {r.track_id: r.release_date for r in tables["top_tracks"]}
    june14 = datetime.date(2019, 6, 14)
    assert dates == {
        "d1": june14,
        "d2": june14,
        "d3": june14,
        "d4": june14,
        "d5": june14,
        "d6": datetime.date(2019, 6, 1),
        "d7": datetime.date(2019, 1, 1),
        "d8": None,
        "d9": None,
        "d10": june14,
        "d11": datetime.date(2019, 3, 5),
    }
    assert "made null: release_date 2, danceability 1" in text


def test_control_characters_are_taken_out_of_names_and_an_artist_left_without_one_is_skipped(spark, tmp_path, caplog):
    """A NUL in a list cell made it unreadable (its artists nameless), in a name cell it stayed in the name;
    an escape in the list's literal (``\\x00``, as Python writes one) reads as the character."""
    a, b, c = "A" * 22, "B" * 22, "C" * 22
    track = ["Album", "al"]
    rest = [1, 1, "False", *FEATURES, "200000", "4.0", 2001, "2001"]
    rows = [
        ["t1", "So\x00ng\tOne", *track, "['Art\x00ist A']", f"['{a}']", *rest],
        ["t2", "Plain", *track, "['Artist A', '\\x00\\x07']", f"['{a}', '{b}']", *rest],  # B: only controls
        ["t3", "\x00", *track, "['\\x1bCee\\nDee\\x85']", f"['{c}']", *rest],
        ["t4", "Untouched  ", *track, "['Artist A']", f"['{a}']", *rest],
    ]
    tables, text = tables_of(spark, caplog, tracks=write(tmp_path / "nul.csv", SONGS_1_2M_HEADER, rows))
    assert sorted((r.artist_id, r.name) for r in tables["artists"]) == [(a, "Artist A"), (c, "Cee Dee")]
    assert sorted((r.artist_id, r.track_id, r.name) for r in tables["top_tracks"]) == [
        (a, "t1", "Song One"),
        (a, "t2", "Plain"),
        (a, "t4", "Untouched  "),
        (c, "t3", None),
    ]
    assert "unreadable list cells (read as empty): 0;" in text
    assert (
        "artists skipped without a name (empty, unreadable, or only control characters): 1; "
        "name cells with control characters (taken out): 5"
    ) in text
    assert len([line for line in text.splitlines() if "control characters" in line]) == 1
    # TidyTuesday: the artist's name is its id's source too; one made only of controls links no artist.
    tidy = [
        tidy_row("t1", "Hit", "I\x00U", "80", "2019", "pop", "k-pop"),
        tidy_row("t2", "Two", "IU", "70", "2019", "pop", "k-pop"),
        tidy_row("t3", "Three", "\x00\x00", "60", "2019", "pop", "k-pop"),
    ]
    caplog.clear()
    tables, text = tables_of(spark, caplog, tracks=write(tmp_path / "tidy.csv", TIDY_HEADER, tidy))
    assert [(r.name, sorted(t.track_id for t in tables["top_tracks"])) for r in tables["artists"]] == [
        ("IU", ["t1", "t2"])
    ]
    assert "not linked to any artist (artist list empty or unreadable): 1;" in text
    assert "name cells with control characters (taken out): 2" in text
