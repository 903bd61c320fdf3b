"""Listening data (--listens): each public layout from a tiny file written here, matched to a tiny snapshot by
name key and alias, bad rows counted and skipped, context ids stored only as an HMAC."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from chispa import assert_df_equality

from jobs import ingest
from jobs.common import schemas
from jobs.common.errors import ConfigError
from jobs.common.lake import Lake
from jobs.sources.listens import ListensSettings, layout_rows, read_listens, with_context_ids
from jobs.sources.synthetic import SyntheticSpec, artists_chunk

KEY = "listens-test-key-0123456789"
IU, NEWJEANS, TWICE_1, TWICE_2, BEYONCE = (c * 22 for c in "ABCDE")


def artists(spark):
    """The snapshot: two artists share the name Twice (ambiguous), IU has the alias 아이유."""
    return schemas.local_frame(
        spark,
        [(IU, "IU"), (NEWJEANS, "NewJeans"), (TWICE_1, "Twice"), (TWICE_2, "TWICE"), (BEYONCE, "Beyoncé")],
        "artist_id string, name string",
    )


def aliases(spark):
    return schemas.local_frame(spark, [(IU, "아이유", "curated")], schemas.ARTIST_ALIASES)


def digest(layout: str, raw: str, key: str = KEY) -> str:
    return hmac.new(key.encode(), f"{layout}:{raw}".encode(), hashlib.sha256).hexdigest()


def expected(spark, layout: str, rows):
    """``(raw context, artist id, weight)`` rows as the lake stores them."""
    return schemas.local_frame(
        spark, [(digest(layout, c), a, float(w), layout) for c, a, w in rows], schemas.ARTIST_CONTEXTS
    )


def read(spark, path, layout):
    return read_listens(spark, ListensSettings(str(path), layout, KEY), artists(spark), aliases(spark))


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_hetrec_names_match_by_key_and_alias_and_bad_rows_are_counted(spark, tmp_path):
    write_lines(
        tmp_path / "artists.dat",
        [
            "id\tname\turl\tpictureURL",
            "51\tiu \thttp://x\thttp://y",
            "52\t아이유\tu",
            "53\tTWICE\tu\tp",
            "54\tbeyonce\tu\tp",
            "55\tNobody Band\tu\tp",
        ],
    )
    write_lines(
        tmp_path / "user_artists.dat",
        [
            "userID\tartistID\tweight",
            "2\t51\t13883",
            "2\t52\t11690",  # IU by name and by alias: one row, summed
            "2\t53\t100",  # Twice: two artists, ambiguous
            "3\t54\t7",  # beyonce finds Beyoncé
            "3\t55\t5",  # no such artist: unmatched
            "3\t99\t5",  # no name in artists.dat: bad
            "4\t51\tlots",
            "4\t51\t-3",
            "5\t51\tNaN",
            "5\t51\tInfinity",
            "4\t51",
            "4\t51\t1\t2",
        ],
    )  # bad
    listens = read(spark, tmp_path, "hetrec")
    assert listens.summary == {
        "read": 12,
        "bad": 7,
        "matched": 3,
        "unmatched": 1,
        "ambiguous": 1,
        "contexts": 2,
        "artists": 2,
        "pairs": 2,
    }
    assert_df_equality(
        listens.contexts,
        expected(spark, "hetrec", [("2", IU, 25573), ("3", BEYONCE, 7)]),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    listens.release()


def test_lastfm360k_reads_its_tsv_or_the_folder_holding_it(spark, tmp_path):
    user, other = "00000c289a1829a808ac09c00daf10bc3c4e223b", "00001411dc427966b17297bf4d69e7e193135d89"
    path = write_lines(
        tmp_path / "usersha1-artmbid-artname-plays.tsv",
        [
            f"{user}\t3bd73256-3905-4f3a-97e2-8b341527f805\tNewJeans\t2137",
            f"{user}\t\tnewjeans\t3",  # no MusicBrainz id: fine; summed with the row above
            f"{user}\t\t아이유\t40",
            f"{other}\t\tIU\t1e400",  # infinite: bad
            f"{other}\t\tI\u0007U\t4",  # a control character: bad
            f"{other}\t\t{'x' * 600}\t4",  # absurdly long: bad
            f"{other}\t\t   \t4",  # no name: bad
            f"{other}\t\tIU\t4\textra",
        ],
    )  # a fifth field: bad
    assert layout_rows(spark, str(path), "lastfm360k").count() == 8
    listens = read(spark, tmp_path, "lastfm360k")
    assert (listens.summary["read"], listens.summary["bad"], listens.summary["matched"]) == (8, 5, 3)
    assert_df_equality(
        listens.contexts,
        expected(spark, "lastfm360k", [(user, NEWJEANS, 2140), (user, IU, 40)]),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_playlists_weigh_an_artist_by_its_tracks_in_the_playlist(spark, tmp_path):
    header = "track_id,track_name,track_artist,track_popularity,playlist_name,playlist_id,playlist_genre"
    write_lines(
        tmp_path / "spotify_songs.csv",
        [
            header,
            't1,"Good Day, Again",IU,80,"K, Hits",37i9dQZF1DX9tPFwDMOaN1,pop',
            't2,"Blue\nMing",IU,70,"K, Hits",37i9dQZF1DX9tPFwDMOaN1,pop',  # a name over two lines
            "t3,Ditto,NewJeans,90,K Hits,37i9dQZF1DX9tPFwDMOaN1,pop",
            "t3,Ditto,NewJeans,90,Other,playlist2,pop",
            "t4,Lost,,10,Other,playlist2,pop",
        ],
    )  # no artist: bad
    listens = read(spark, tmp_path / "spotify_songs.csv", "playlists")
    assert (listens.summary["read"], listens.summary["bad"], listens.summary["contexts"]) == (5, 1, 2)
    assert_df_equality(
        listens.contexts,
        expected(
            spark,
            "playlists",
            [("37i9dQZF1DX9tPFwDMOaN1", IU, 2), ("37i9dQZF1DX9tPFwDMOaN1", NEWJEANS, 1), ("playlist2", NEWJEANS, 1)],
        ),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_csv_takes_spotify_ids_or_names_an_optional_header_and_weight(spark, tmp_path):
    path = write_lines(
        tmp_path / "listens.csv",
        [
            "\ufeffcontext,artist,weight",  # a header (after a byte-order mark): not a row
            f"u1,{IU},3",
            "u1,IU,",
            f"u2,{NEWJEANS}",  # an id, a name; an empty or missing weight is 1
            f"u2,{'Z' * 22},1",  # an id of no artist, and no name: unmatched
            '"u3","Twice, again",2',
            "u3,twice,2",  # a quoted name with a comma (unmatched); an ambiguous name
            ",IU,1",
            "u4,IU,1,extra",
            "u5,IU,inf",
        ],
    )  # bad
    listens = read(spark, path, "csv")
    assert listens.summary == {
        "read": 9,
        "bad": 3,
        "matched": 3,
        "unmatched": 2,
        "ambiguous": 1,
        "contexts": 2,
        "artists": 2,
        "pairs": 2,
    }
    assert_df_equality(
        listens.contexts,
        expected(spark, "csv", [("u1", IU, 4), ("u2", NEWJEANS, 1)]),
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_a_context_id_is_the_hmac_of_layout_and_raw_id_the_same_for_the_same_id(spark):
    frame = schemas.local_frame(spark, [("7", IU), ("7", NEWJEANS), ("8", IU)], "context string, artist_id string")
    rows = with_context_ids(frame, KEY, "hetrec").collect()
    assert sorted((r.context_id, r.artist_id) for r in rows) == sorted(
        [(digest("hetrec", "7"), IU), (digest("hetrec", "7"), NEWJEANS), (digest("hetrec", "8"), IU)]
    )
    assert digest("hetrec", "7") not in (digest("csv", "7"), digest("hetrec", "7", KEY + "x"))


@pytest.mark.parametrize(
    "listens, env, message",
    [
        ({"path": "/nowhere", "layout": "csv"}, {}, "set the environment variable CONTEXT_KEY (listens.key_env)"),
        ({"path": "/nowhere", "layout": "csv", "key_env": "MY_KEY"}, {"MY_KEY": "short"}, "(got 5 characters)"),
        ({"path": "/nowhere"}, {"CONTEXT_KEY": KEY}, "needs --listens-layout"),
        ({"path": "/nowhere", "layout": "spotify"}, {"CONTEXT_KEY": KEY}, "listens.layout 'spotify' is unknown"),
    ],
)
def test_listens_settings_refuse_a_missing_key_or_layout(listens, env, message):
    with pytest.raises(ConfigError) as refused:
        ListensSettings.from_config({"listens": listens}, env)
    assert message in str(refused.value)


def test_no_listens_path_means_no_listens_and_no_key_needed():
    assert ListensSettings.from_config({"listens": {"path": "", "layout": "csv"}}, {}) is None


def test_the_key_may_come_from_secrets_manager(moto_aws):
    import boto3

    boto3.client("secretsmanager").create_secret(Name="context-key", SecretString=json.dumps({"key": KEY}))
    settings = ListensSettings.from_config({"listens": {"path": "p", "layout": "csv", "key_secret": "context-key"}}, {})
    assert settings.key == KEY and KEY not in repr(settings)


def test_ingest_without_a_key_stops_before_reading_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CONTEXT_KEY", raising=False)
    lake_dir = tmp_path / "lake"
    status = ingest.main(
        [
            "--source",
            "tracks-csv",
            "--tracks",
            "/nowhere.csv",
            "--lake",
            str(lake_dir),
            "--listens",
            "/nowhere",
            "--listens-layout",
            "hetrec",
        ]
    )
    assert status == 2
    assert "--listens needs a key of at least 16 characters" in capsys.readouterr().err
    assert not lake_dir.exists()


def test_ingest_writes_the_contexts_and_carries_those_of_other_sources_forward(spark, tmp_path, monkeypatch):
    monkeypatch.setenv("CONTEXT_KEY", KEY)
    made = artists_chunk(SyntheticSpec(artists=4), 0).to_pydict()
    ids, names = made["artist_id"], made["name"]
    listens = write_lines(
        tmp_path / "listens.csv",
        [f"listener-1,{ids[0]},5", f"listener-1,{names[1].upper()},2", f"listener-2,{ids[0]},1", "listener-2,Nobody,1"],
    )
    argv = ["--source", "synthetic", "--artists", "4", "--lake", str(tmp_path / "lake")]
    assert (
        ingest.main(
            [
                *argv,
                "--dt",
                "2026-12-01",
                "--set",
                "synthetic.contexts=3",
                "--listens",
                str(listens),
                "--listens-layout",
                "csv",
            ]
        )
        == 0
    )
    # No --listens, no synthetic contexts: those of the csv are carried forward, the synthetic ones are not.
    assert ingest.main([*argv, "--dt", "2026-12-02", "--set", "synthetic.contexts=0"]) == 0
    lake = Lake(spark, str(tmp_path / "lake"))
    first = lake.read("artist_contexts", "2026-12-01").drop("dt")
    rows = first.collect()
    assert {(r.source, r.artist_id in ids) for r in rows} == {("csv", True), ("synthetic", True)}
    assert not [r for r in rows if r.source == "csv" and "listener" in r.context_id]  # only HMACs stored
    listened = expected(spark, "csv", [("listener-1", ids[0], 5), ("listener-1", ids[1], 2), ("listener-2", ids[0], 1)])
    assert_df_equality(first.where("source = 'csv'"), listened, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(
        lake.read("artist_contexts", "2026-12-02").drop("dt"), listened, ignore_row_order=True, ignore_nullable=True
    )
