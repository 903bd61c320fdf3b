"""The evaluation: metrics with known answers on tiny frames, the weight fit, the report, the job."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest

from jobs.evaluation import fit as fitting
from jobs.evaluation.report import pca_projection, write_report
from jobs.transform.evaluation import (
    co_credited_share,
    distances,
    genre_popularity_pairs,
    genre_precision,
    genre_table,
    hubness,
    per_genre_precision,
    random_pairs,
)

ARTISTS = [("a", ["rock", "Pop "], 50), ("b", ["rock"], 70), ("c", ["jazz"], 10), ("d", None, 30), ("e", ["pop"], None)]
RELATED = [
    ("a", 1, "b", 0.0),
    ("a", 2, "c", 0.5),
    ("b", 1, "a", 0.0),
    ("b", 2, "d", 0.7),
    ("c", 1, "a", 0.5),
    ("c", 2, "b", 0.6),
    ("d", 1, "a", 0.2),
    ("d", 2, "b", 0.3),
    ("e", 1, "a", 0.1),
    ("e", 2, "c", 0.9),
]


@pytest.fixture
def frames(spark):
    artists = spark.createDataFrame(ARTISTS, "artist_id string, genres array<string>, popularity int")
    related = spark.createDataFrame(RELATED, "artist_id string, rank int, related_id string, distance double")
    return artists, related, genre_table(artists)


def test_genre_precision_counts_pairs_of_queries_with_genres(frames):
    _, related, genres = frames
    # a: b hit, c miss; b: a hit, d miss (no genres); c: a miss, b miss; e: a hit (pop), c miss. d has no genres.
    assert genre_precision(related, genres, 2) == {"precision": 3 / 8, "queries": 4, "pairs": 8}
    assert genre_precision(related, genres, 1)["precision"] == 3 / 4
    per_genre = {g["genre"]: (g["artists"], g["precision"]) for g in per_genre_precision(related, genres, 2)}
    assert per_genre == {"rock": (2, 0.5), "pop": (2, 0.5), "jazz": (1, 0.0)}


def test_baselines_are_deterministic_and_never_pick_the_query(spark, frames):
    _, related, genres = frames
    pool = related.select("artist_id").distinct()
    drawn = random_pairs(pool, 50).collect()
    assert drawn == random_pairs(pool, 50).collect() and len(drawn) == 250
    assert all(r.artist_id != r.related_id for r in drawn)
    assert {r.related_id for r in drawn} == {"a", "b", "c", "d", "e"}
    # Genre frequencies: rock 2, pop 2, jazz 1: a scores 4, then b and e 2 (b first by id): a, b for everyone.
    same = {(r.artist_id, r.rank, r.related_id) for r in genre_popularity_pairs(pool, genres, 2).collect()}
    assert ("c", 1, "a") in same and ("c", 2, "b") in same and ("a", 1, "b") in same and ("a", 2, "e") in same


def test_hubness_coverage_distances_and_co_credits(spark, frames):
    _, related, _ = frames
    pool = spark.createDataFrame([(x,) for x in "abcdef"], "artist_id string")  # f: never recommended
    hub = hubness(related, pool, 2)
    assert (
        hub["coverage"] == 4 / 6
        and hub["in_degree_max"] == 4
        and hub["in_degree_histogram"] == {0: 2, 1: 1, 2: 1, 3: 1, 4: 1}
    )
    d = distances(related, 2, bins=10)
    assert d["pairs"] == 10 and d["zero_share"] == 0.2 and sum(d["histogram"]) == 10 and d["max"] == 0.9
    from jobs.common import schemas

    tops = spark.createDataFrame(
        [
            ("a", "t1", 1, None, None, None, None, None, None, "t", None),
            ("b", "t1", 1, None, None, None, None, None, None, "t", None),
        ],
        schemas.TOP_TRACKS,
    )
    assert co_credited_share(related, tops, 2) == {"share": 0.2, "at_zero_share": 0.2}  # a->b and b->a


def test_the_fit_is_deterministic_and_never_scores_the_held_out_part_while_searching(monkeypatch):
    rng = np.random.default_rng(3)
    n = 400
    genre = rng.integers(0, 4, n)
    # Feature 0 carries the genre, feature 1 is noise ten times as wide: the fit should weigh it down.
    points = np.column_stack([genre + rng.normal(0, 0.1, n), rng.normal(0, 10.0, n)])
    genres = [frozenset({f"g{g}"}) for g in genre]
    ids = [f"artist{i:04d}" for i in range(n)]
    seen = []
    real = fitting.precision_at_k

    def recording(part, part_genres, metric, k):
        seen.append(len(part))
        return real(part, part_genres, metric, k)

    monkeypatch.setattr(fitting, "precision_at_k", recording)
    first = fitting.fit_weights(points, genres, ids, ["carrier", "noise"], "euclidean", 3, seed=11)
    fitted_rows = int(fitting.split_half(ids, 11).sum())
    assert first.fitted_artists == fitted_rows and first.held_out_artists == n - fitted_rows
    assert set(seen[:-2]) == {fitted_rows} and seen[-2:] == [n - fitted_rows] * 2  # held out: scored twice at the end
    assert first.weights["noise"] < first.weights["carrier"] and first.held_out > first.base_held_out + 0.2
    monkeypatch.setattr(fitting, "precision_at_k", real)
    again = fitting.fit_weights(points, genres, ids, ["carrier", "noise"], "euclidean", 3, seed=11)
    assert (again.weights, again.held_out, again.fitted) == (first.weights, first.held_out, first.fitted)
    assert fitting.split_half(ids, 11).tolist() != fitting.split_half(ids, 12).tolist()


def result(label, precision):
    return {
        "label": label,
        "imputed": {"release_year": 2},
        "settings": {"features": ["energy"]},
        "figures": {
            "k": 3,
            "genre_precision": precision,
            "genre_queries": 3,
            "random_precision": 0.1,
            "genre_popularity_precision": 0.2,
            "coverage": 0.9,
            "in_degree_max": 5,
            "in_degree_p99": 4.0,
            "in_degree_skew": 1.5,
            "in_degree_histogram": {0: 1, 3: 4, 5: 1},
            "distances": {"pairs": 4, "median": 0.3, "histogram_edges": [0.0, 0.5, 1.0], "histogram": [3, 1]},
            "per_genre": [{"genre": "rock", "artists": 3, "precision": 0.5}],
            "popularity_gap": {"mean": 2.0, "mean_abs": 5.0, "pairs": 4},
            "co_credited": {"share": 0.0},
        },
    }


def test_the_report_holds_every_figure_and_its_plots_decode(tmp_path):
    import matplotlib.image

    projection = pca_projection(np.random.default_rng(0).random((30, 4)), ["rock"] * 20 + ["jazz"] * 9 + [None])
    fit = {
        "seed": 7,
        "weights": {"energy": 2.0},
        "fitted_artists": 10,
        "held_out_artists": 9,
        "base_fitted": 0.2,
        "fitted": 0.4,
        "base_held_out": 0.21,
        "held_out": 0.33,
    }
    paths = write_report(
        tmp_path,
        "Test report",
        [result("seed", 0.25), result("config", 0.5)],
        [projection, projection],
        fit,
        {"dt": "2026-01-01"},
    )
    page = paths["html"].read_text()
    images = re.findall(r'<img alt="([a-z_]+)" src="data:image/png;base64,([^"]+)"', page)
    assert [name for name, _ in images] == ["distances", "in_degree", "per_genre", "map"]
    for _, data in images:
        picture = matplotlib.image.imread(io.BytesIO(base64.b64decode(data)), format="png")
        assert picture.shape[0] > 100 and picture.shape[1] > 100
    for text in ("0.250", "0.500", "release_year 2", "held out", "0.330", "energy 2"):
        assert text in page
    saved = json.loads(paths["json"].read_text())
    assert [row["setting"] for row in saved["comparison"]] == ["seed", "config"] and saved["fit"]["held_out"] == 0.33


def test_genre_labels_with_dollar_signs_are_drawn_as_typed_not_read_as_mathtext(tmp_path):
    """``$\\foo$`` and ``$$`` failed the whole report (matplotlib's mathtext); a leading "_" hid a genre
    from the map's legend."""
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    from jobs.evaluation import report

    typed = ["$\\foo$", "a$b", "$$", "_hidden"]
    primary = result("$seed$", 0.25)
    primary["figures"]["per_genre"] = [{"genre": genre, "artists": 2, "precision": 0.5} for genre in typed]
    projection = pca_projection(np.random.default_rng(0).random((40, 4)), typed * 10)
    paths = write_report(tmp_path, "$title$", [primary], [projection], None, {"genre": "$$"})
    assert re.findall(r'<img alt="([a-z_]+)"', paths["html"].read_text()) == [
        "distances",
        "in_degree",
        "per_genre",
        "map",
    ]
    drawn = report.figures([primary], [projection])
    try:
        texts = [text for figure in drawn.values() for text in figure.findobj(Text)]
        assert not [text.get_text() for text in texts if text.get_parse_math() or text.get_usetex()]
        shown = {text.get_text() for text in texts}  # what is drawn, character for character
        assert {f"{genre} (2)" for genre in typed} <= shown  # the per-genre bars
        assert sorted(text.get_text() for text in drawn["map"].axes[0].get_legend().get_texts()) == sorted(typed)
        assert "$seed$" in {ax.get_title() for ax in drawn["distances"].axes}
        assert "Distance to related artists" in {figure.get_suptitle() for figure in drawn.values()}
    finally:
        for figure in drawn.values():
            plt.close(figure)


def test_each_compared_setting_gets_its_own_map_and_histograms_side_by_side_each_titled_with_its_label():
    """The map said "(published)" but drew the first computed setting's vectors, and only the first setting was
    plotted: now each figure has a column per setting, each drawing that setting's figures and map."""
    import matplotlib.pyplot as plt

    from jobs.evaluation import report

    rng = np.random.default_rng(1)
    settings = [result("published", 0.25), result("seed", 0.5), result("config", 0.4)]
    settings[1]["figures"]["distances"]["histogram"] = [1, 7]
    maps = [pca_projection(rng.random((n, 3)), ["rock"] * n) for n in (30, 40, 50)]
    drawn = report.figures(settings, maps)
    try:
        assert list(drawn) == ["distances", "in_degree", "per_genre", "map"]
        for figure in drawn.values():  # a column per setting, titled with its label
            assert [ax.get_title() for ax in figure.axes] == ["published", "seed", "config"]
        heights = [[bar.get_height() for bar in ax.patches] for ax in drawn["distances"].axes]
        assert heights == [[3, 1], [1, 7], [3, 1]]
        drawn_points = [sum(len(c.get_offsets()) for c in ax.collections) for ax in drawn["map"].axes]
        assert drawn_points == [30, 40, 50]
        published = np.concatenate([c.get_offsets() for c in drawn["map"].axes[0].collections])
        assert np.allclose(np.sort(published, axis=0), np.sort(np.asarray(maps[0]["xy"]), axis=0))
        maps[0]["drawn"] = "the config's vectors"  # published's map: whose vectors it draws, in its title
        again = report.figures(settings, maps)
        assert again["map"].axes[0].get_title() == "published (the config's vectors)"
        assert [ax.get_title() for ax in again["distances"].axes] == ["published", "seed", "config"]
        drawn.update({f"again {name}": figure for name, figure in again.items()})
    finally:
        for figure in drawn.values():
            plt.close(figure)


def test_a_setting_without_a_map_says_so_in_its_column():
    import matplotlib.pyplot as plt

    from jobs.evaluation import report

    maps = [None, pca_projection(np.random.default_rng(2).random((10, 3)), ["jazz"] * 10)]
    drawn = report.figures([result("published", 0.2), result("seed", 0.3)], maps)
    try:
        titles = [ax.get_title() for ax in drawn["map"].axes]
        assert titles == ["published: fewer than two artists", "seed"]
        with pytest.raises(ValueError, match="one per setting"):
            report.figures([result("seed", 0.3)], maps)
    finally:
        for figure in drawn.values():
            plt.close(figure)


def test_random_pairs_number_the_pool_as_a_window_ordered_by_id_would_without_one(spark):
    """The baseline's numbering gave the same numbers through ``row_number() over (order by artist_id)``,
    which moved every row to one partition (Spark's WindowExec warning, 54 times a run)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from jobs.transform.evaluation import numbered_by_id

    ids = [f"artist{i:03d}" for i in np.random.default_rng(5).permutation(300)]
    pool = spark.createDataFrame([(i,) for i in ids], "artist_id string").repartition(4)
    windowed = pool.withColumn("_i", F.row_number().over(Window.orderBy("artist_id")) - 1)
    assert sorted(map(tuple, numbered_by_id(pool).collect())) == sorted(map(tuple, windowed.collect()))
    drawn = random_pairs(pool, 5)
    assert "Window" not in drawn._jdf.queryExecution().executedPlan().toString()
    assert drawn.count() == 1500 and drawn.where("artist_id = related_id").count() == 0


def test_the_job_scores_what_was_published_compares_settings_and_fits_weights_for_the_similarity_job(
    spark, tmp_path, capsys, monkeypatch
):
    from jobs import evaluate, ingest, similarity
    from jobs.transform.signals import PRESETS

    mapped, real_map = [], evaluate.artist_map

    def recording_map(vectors, features, *args):
        mapped.append(tuple(features))
        return real_map(vectors, features, *args)

    monkeypatch.setattr(evaluate, "artist_map", recording_map)
    lake = str(tmp_path / "lake")
    dt = "2026-02-01"
    assert ingest.main(["--lake", lake, "--dt", dt, "--artists", "240", "--set", "synthetic.genres=6"]) == 0
    assert evaluate.main(["--lake", lake, "--dt", dt]) == 2  # nothing published yet
    assert "related_artists" in capsys.readouterr().err
    assert similarity.main(["--lake", lake, "--dt", dt, "--no-publish"]) == 0
    report = tmp_path / "report"
    assert (
        evaluate.main(
            [
                "--lake",
                lake,
                "--dt",
                dt,
                "--compare",
                "published,seed",
                "--compare",
                "features=energy,release_year;weights.energy=2",
                "--fit",
                "--report",
                str(report),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    saved = json.loads((report / "report.json").read_text())
    rows = {row["setting"]: row for row in saved["comparison"]}
    assert list(rows) == ["published", "seed", "features=energy,release_year;weights.energy=2"]
    # One map per setting: published's draws the config's vectors (what the similarity job made it with).
    assert mapped == [
        tuple(PRESETS["default"]["features"]),
        tuple(PRESETS["seed"]["features"]),
        ("energy", "release_year"),
    ]
    for row in rows.values():  # synthetic genres are sound clusters: far better than chance
        assert row["genre_precision"] > 2 * row["random_precision"] > 0
    assert saved["fit"]["fitted_artists"] + saved["fit"]["held_out_artists"] == 240
    assert "held-out part" in out and (report / "report.html").exists()
    fitted = report / "fitted.toml"
    assert similarity.main(["--lake", lake, "--dt", dt, "--no-publish", "--weights", str(fitted)]) == 0
    assert "weights {" in capsys.readouterr().err or saved["fit"]["weights"] == {
        f: 1.0 for f in saved["fit"]["features"]
    }
