"""schemas.local_frame: rows built on the driver through Arrow, verified like createDataFrame's."""

from __future__ import annotations

import datetime

import pytest
from chispa import assert_df_equality
from pyspark.errors import PySparkTypeError

from jobs.common import schemas

TRACK = ("ar1", "tr1", 1, "Song", "Album", None, 70, 200_000, None, "test", datetime.date(2020, 5, 17))


def _last_job(spark) -> int:
    """The id of the latest Spark job (ids grow by one per job; the tracker keeps only recent ones)."""
    return max(spark.sparkContext.statusTracker().getJobIdsForGroup(), default=-1)


def test_the_rows_and_the_schema_are_those_of_create_dataframe(spark):
    artists = [("ar1", "이름", ["k-pop", "dance"], 88, 10**12, None, "https://x", "test"), (None,) * 8]
    marks = [("writing", {"artists": 3}), (None, None)]
    for rows, schema in (
        (artists, schemas.ARTISTS),
        ([TRACK], schemas.TOP_TRACKS),
        ([], schemas.UNRESOLVED_NAMES),
        (marks, "state string, rows map<string, bigint>"),
    ):  # a DDL string, as createDataFrame takes
        assert_df_equality(schemas.local_frame(spark, rows, schema), spark.createDataFrame(rows, schema))


def test_reading_a_small_one_back_runs_no_spark_job(spark):
    frame = schemas.local_frame(spark, [TRACK] * 50, schemas.TOP_TRACKS)
    before = _last_job(spark)
    assert len(frame.collect()) == 50
    assert _last_job(spark) == before


def test_a_value_of_the_wrong_type_is_refused_as_create_dataframe_refuses_it(spark):
    bad = TRACK[:2] + (1.5,) + TRACK[3:]  # a float rank: Arrow alone would cut it to 1
    with pytest.raises(PySparkTypeError, match="field rank: IntegerType\\(\\) can not accept object 1.5"):
        schemas.local_frame(spark, [bad], schemas.TOP_TRACKS)
    with pytest.raises(PySparkTypeError, match="field rank: IntegerType\\(\\) can not accept object 1.5"):
        spark.createDataFrame([bad], schemas.TOP_TRACKS)
