"""round_half_up against Spark's own F.round(x).cast("long") (HALF_UP through BigDecimal), value by value."""

from __future__ import annotations

import math
import random

import pytest
from pyspark.sql import functions as F

from jobs.transform.vectors import _FIXED_POINT, fixed_point, round_half_up


def edge_values() -> list[float]:
    """Halves and their neighbours both sides, around 0, 1, 2^30, 2^51, 2^52 and 2^53, both signs."""
    values = [0.0, -0.0, 0.5, 0.49999999999999994, 1.5, 2.5, 1e-300, 5e-324, 0.1, 0.7, 1e15 + 0.5]
    for k in (0, 1, 2, 3, 7, 10, 1023, 2**20, 2**30, 2**40, 2**50, 2**51 - 1, 2**51, 2**52 - 1):
        half = k + 0.5
        values += [
            half,
            math.nextafter(half, math.inf),
            math.nextafter(half, -math.inf),
            float(k),
            math.nextafter(float(k), math.inf),
            math.nextafter(float(k), -math.inf),
        ]
    for big in (2.0**52, 2.0**53, 2.0**62):
        values += [
            big,
            big - 1,
            big + 1,
            math.nextafter(big, -math.inf),
            math.nextafter(big, math.inf),
            big - 0.5,
            big + 2,
        ]
    return values + [-v for v in values]


def sampled_values(count: int = 800) -> list[float]:
    """Feature-like doubles in fixed-point units (x * 2^30), the values the means round."""
    draw = random.Random(15)
    return (
        [draw.uniform(-60.0, 1.0) * _FIXED_POINT for _ in range(count)]
        + [draw.random() * _FIXED_POINT for _ in range(count)]
        + [draw.uniform(-1e6, 1e6) for _ in range(count)]
    )


def test_round_half_up_is_spark_round_on_every_edge_value(spark):
    values = edge_values() + sampled_values()
    frame = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i long, v double")
    rows = frame.select(
        "i",
        "v",
        F.round("v").cast("long").alias("spark"),
        round_half_up(F.col("v")).alias("ours"),
    ).collect()
    assert len(rows) == len(values)
    different = [(r.v, r.spark, r.ours) for r in rows if r.spark != r.ours]
    assert different == []
    # The values that a floor(|x| + 0.5) shortcut gets wrong are among those compared, with the right answer.
    by_value = {r.v: r.ours for r in rows}
    assert by_value[0.49999999999999994] == 0 and by_value[-0.49999999999999994] == 0
    assert by_value[2.5] == 3 and by_value[-2.5] == -3 and by_value[2.0**52 + 1] == 2**52 + 1


def test_fixed_point_units_match_the_rounded_product_and_keep_nulls(spark):
    frame = spark.createDataFrame([(0.1,), (-7.25,), (None,), (1e-10,), (0.123456789,)], "x double")
    rows = frame.select(
        F.round(F.col("x") * F.lit(_FIXED_POINT)).cast("long").alias("spark"), fixed_point(F.col("x")).alias("ours")
    ).collect()
    assert [r.ours for r in rows] == [r.spark for r in rows]
    assert rows[2].ours is None and rows[1].ours == -7 * 2**30 - 2**28


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e19 * _FIXED_POINT])
def test_a_value_beyond_a_long_fails_as_spark_round_does(spark, value):
    frame = spark.createDataFrame([(value,)], "v double")
    with pytest.raises(Exception, match="CAST_OVERFLOW|cannot be cast|overflow"):
        frame.select(F.round("v").cast("long")).collect()
    with pytest.raises(Exception, match="CAST_OVERFLOW|cannot be cast|overflow"):
        frame.select(round_half_up(F.col("v"))).collect()
