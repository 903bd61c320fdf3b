"""The similarity and evaluation jobs with listening data: the blend, its reasons, the fallback to sound,
``--preset sound``, and the held-out listeners never used to build what is scored."""

from __future__ import annotations

import logging
import tomllib

import pytest
from pyspark.sql import functions as F

from jobs import evaluate, ingest, similarity
from jobs.common.lake import Lake
from jobs.evaluation import held_out
from jobs.settings import DEFAULT_K, EvaluateSettings, apply_signal_settings

DT = "2026-03-02"


@pytest.fixture(scope="module")
def listening_lake(spark, tmp_path_factory):
    """400 synthetic artists with genres, and 400 listening contexts of about 15 artists each."""
    lake_dir = str(tmp_path_factory.mktemp("listening") / "lake")
    assert (
        ingest.main(
            [
                "--lake",
                lake_dir,
                "--dt",
                DT,
                "--source",
                "synthetic",
                "--artists",
                "400",
                "--set",
                "synthetic.contexts=400",
                "--set",
                "synthetic.context_size=15",
            ]
        )
        == 0
    )
    return lake_dir


def run_job(spark, lake_dir, *flags):
    assert similarity.main(["--lake", lake_dir, "--dt", DT, "--no-publish", *flags]) == 0
    rows = Lake(spark, lake_dir).read("related_artists", DT).drop("dt")
    return spark.createDataFrame(rows.collect(), rows.schema)


@pytest.fixture(scope="module")
def sound_rows(spark, listening_lake):
    return run_job(spark, listening_lake, "--preset", "sound")


class Recorded(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def blend_run(spark, listening_lake, sound_rows):
    """The job with its defaults (the blend): its rows and its log lines."""
    _, settings = similarity.settings_from_args(
        similarity.parse_args(["--lake", listening_lake, "--dt", DT, "--no-publish"])
    )
    logger, recorded = logging.getLogger("jobs.similarity"), Recorded()
    logger.addHandler(recorded)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        similarity.run(spark, settings)
    finally:
        logger.removeHandler(recorded)
        logger.setLevel(level)
    rows = Lake(spark, listening_lake).read("related_artists", DT).drop("dt")
    return spark.createDataFrame(rows.collect(), rows.schema), recorded.messages


@pytest.fixture(scope="module")
def blend_rows(blend_run):
    return blend_run[0]


def reasons(rows) -> dict[str, int]:
    return {r.reason: r["count"] for r in rows.groupBy("reason").count().collect()}


def test_preset_sound_keeps_sound_alone(sound_rows):
    assert set(reasons(sound_rows)) == {"sound"}


def test_the_blend_gives_each_artist_k_related_artists_with_their_reason(blend_rows, sound_rows):
    found = reasons(blend_rows)
    assert set(found) <= {"sound", "listeners", "both"} and found.get("listeners", 0) + found.get("both", 0) > 0
    per_artist = blend_rows.groupBy("artist_id").count()
    assert per_artist.where(f"count != {DEFAULT_K}").count() == 0
    assert per_artist.count() == sound_rows.select("artist_id").distinct().count()
    assert blend_rows.where("artist_id = related_id").count() == 0
    assert blend_rows.where(F.col("distance").isNull()).count() == 0


def test_artists_without_listening_data_fall_back_to_sound_exactly(blend_rows, sound_rows):
    only_sound = (
        blend_rows.groupBy("artist_id")
        .agg(F.collect_set("reason").alias("why"))
        .where(
            F.array_contains("why", "listeners") | F.array_contains("why", "both"),
        )
        .select("artist_id")
    )
    fallback = blend_rows.join(only_sound, "artist_id", "left_anti")
    same = sound_rows.join(only_sound, "artist_id", "left_anti")
    assert fallback.count() > 0  # the synthetic contexts leave some artists with too few
    assert sorted(map(tuple, fallback.collect())) == sorted(map(tuple, same.collect()))


def test_the_log_says_how_many_artists_blend_and_how_many_keep_sound(blend_run):
    assert any("blend listening data" in line and "by sound alone" in line for line in blend_run[1])


def test_bad_listener_settings_are_refused_before_spark_work(listening_lake):
    assert similarity.main(["--lake", listening_lake, "--no-publish", "--set", "similarity.listeners_weight=2"]) == 2
    assert similarity.main(["--lake", listening_lake, "--no-publish", "--set", "listeners.top_n=0"]) == 2
    assert similarity.main(["--lake", listening_lake, "--no-publish", "--set", "listeners.topn=5"]) == 2


def test_held_out_contexts_are_never_used_to_build_and_the_fit_is_read_by_the_job(
    spark, listening_lake, monkeypatch, tmp_path
):
    contexts = Lake(spark, listening_lake).read("artist_contexts", DT)
    split = held_out.split_contexts(contexts, seed=7)
    build = {r.context_id for r in split.build.select("context_id").distinct().collect()}
    held = {r.context_id for r in split.held_out.select("context_id").distinct().collect()}
    assert build and held and not build & held
    assert build | held == {r.context_id for r in contexts.select("context_id").distinct().collect()}
    seen = []
    original = held_out.evaluate_held_out

    def spy(spark_, candidates_for, *args, **kwargs):
        def recording(build_contexts):
            seen.append({r.context_id for r in build_contexts.select("context_id").distinct().collect()})
            return candidates_for(build_contexts)

        return original(spark_, recording, *args, **kwargs)

    monkeypatch.setattr(held_out, "evaluate_held_out", spy)
    fitted_path = tmp_path / "fitted.toml"
    result = evaluate.run(
        spark,
        EvaluateSettings.from_config(
            _config(listening_lake),
            ["config"],
            dt=DT,
            fit=True,
            fit_out=str(fitted_path),
            report_dir=str(tmp_path / "report"),
        ),
    )
    assert seen == [build]
    figures = result["listening"]["groups"]
    assert set(figures) == {"all", "with listening data", "without"}
    assert set(figures["all"]) == {"sound", "listeners", "blend", "popularity", "random"}
    assert figures["all"]["blend"]["queries"] > 0
    # --fit: a blend weight, in the report and in the TOML the similarity job reads.
    fitted = tomllib.loads(fitted_path.read_text())["similarity"]
    assert 0.0 <= fitted["listeners_weight"] <= 1.0
    report = (tmp_path / "report" / "report.html").read_text()
    assert "Held-out listeners" in report and "by build contexts" in report
    assert similarity.main(["--lake", listening_lake, "--dt", DT, "--no-publish", "--weights", str(fitted_path)]) == 0


def _config(lake_dir):
    from jobs.common.config import load_config, set_path

    config = load_config()
    set_path(config, "lake.path", lake_dir)
    set_path(config, "evaluate.report", lake_dir + "-evaluation")
    apply_signal_settings(config)
    return config


def test_the_als_alternative_blends_too(spark, listening_lake, sound_rows):
    rows = run_job(spark, listening_lake, "--set", 'listeners.method="als"')
    found = reasons(rows)
    assert found.get("listeners", 0) + found.get("both", 0) > 0
    assert rows.groupBy("artist_id").count().where(f"count != {DEFAULT_K}").count() == 0
    assert rows.select("artist_id").distinct().count() == sound_rows.select("artist_id").distinct().count()


def test_ingest_copies_what_the_chatbot_answered_to_the_lake(spark, sqlite_mart, tmp_path):
    from jobs.common.config import load_config, set_path
    from jobs.settings import IngestSettings
    from jobs.sources.synthetic import SyntheticSpec, generate
    from mart import schema, serving

    ids = [r.artist_id for r in generate(spark, SyntheticSpec(artists=30, contexts=0))["artists"].collect()]
    conn = sqlite_mart.reader()
    for statement in schema.create_statements("sqlite", "chat_listens"):
        serving.fetch_all(conn, statement)
    today = __import__("datetime").date.today().isoformat()
    conn.executemany(
        "INSERT INTO chat_listens VALUES (?, ?, ?, ?)",
        [
            ("u" * 32, ids[0], today, 1),
            ("u" * 32, ids[1], today, 2),
            ("v" * 32, ids[1], today, 1),
            ("v" * 32, "not-in-the-snapshot", today, 1),
        ],
    )
    conn.commit()
    conn.close()
    config = load_config()
    config["mart"] = sqlite_mart.config()["mart"]
    for key, value in {
        "lake.path": str(tmp_path / "lake"),
        "synthetic.artists": 30,
        "synthetic.contexts": 0,
        "ingest.chat_listens": True,
    }.items():
        set_path(config, key, value)
    ingest.run(spark, IngestSettings.from_config(config, sqlite_mart.env()), DT)
    rows = sorted(
        tuple(r)
        for r in Lake(spark, str(tmp_path / "lake"))
        .read("artist_contexts", DT)
        .select("context_id", "artist_id", "weight", "source")
        .collect()
    )
    assert rows == [("u" * 32, ids[0], 1.0, "chat"), ("u" * 32, ids[1], 1.0, "chat"), ("v" * 32, ids[1], 1.0, "chat")]
