"""The blend of sound and listening on tiny frames: scores, reasons, the fallback to sound, the weight's range."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality

from jobs.transform.blend import blend, check_weight

SOUND = "artist_id string, rank int, related_id string, distance double"
LISTENED = "artist_id string, rank int, related_id string, similarity double, distance double"
RELATED = "artist_id string, rank int, related_id string, distance double, reason string"


@pytest.fixture
def sound(spark):
    # Each artist's four nearest by sound.
    return spark.createDataFrame(
        [
            ("a", 1, "s1", 0.1),
            ("a", 2, "s2", 0.2),
            ("a", 3, "x", 0.3),
            ("a", 4, "s4", 0.4),
            ("b", 1, "s1", 0.5),
            ("b", 2, "s2", 0.6),
            ("b", 3, "s3", 0.7),
            ("b", 4, "s4", 0.8),
        ],
        SOUND,
    )


@pytest.fixture
def listened(spark):
    # Only a has listening data: l1 most, then x (also a sound neighbour), then l2.
    return spark.createDataFrame(
        [("a", 1, "l1", 0.8, 0.9), ("a", 2, "x", 0.4, 0.3), ("a", 3, "l2", 0.2, 0.95)], LISTENED
    )


def test_candidates_of_both_signals_scored_and_given_their_reason(spark, sound, listened):
    # weight 0.5, m 4: l1 0.5 * 1; x 0.5 * 0.5 + 0.5 * 0.5 = 0.5 (nearer than l1: first); s1 0.5 * 1;
    # s2 0.5 * 0.75; l2 0.5 * 0.25.
    related = blend(sound, listened, k=3, m=4, weight=0.5)
    expected = spark.createDataFrame(
        [
            ("a", 1, "s1", 0.1, "sound"),
            ("a", 2, "x", 0.3, "both"),
            ("a", 3, "l1", 0.9, "listeners"),
            ("b", 1, "s1", 0.5, "sound"),
            ("b", 2, "s2", 0.6, "sound"),
            ("b", 3, "s3", 0.7, "sound"),
        ],
        RELATED,
    )
    assert_df_equality(related, expected, ignore_row_order=True, ignore_nullable=True)


def test_weight_one_ranks_by_listening_and_zero_by_sound(spark, sound, listened):
    by_listening = [
        r.related_id for r in blend(sound, listened, 3, 4, 1.0).where("artist_id = 'a'").orderBy("rank").collect()
    ]
    assert by_listening == ["l1", "x", "l2"]
    by_sound = [
        r.related_id for r in blend(sound, listened, 3, 4, 0.0).where("artist_id = 'a'").orderBy("rank").collect()
    ]
    assert by_sound == ["s1", "s2", "x"]


def test_an_artist_without_listening_data_keeps_sound_alone(spark, sound, listened):
    related = blend(sound, listened, 2, 4, 0.9).where("artist_id = 'b'")
    expected = spark.createDataFrame([("b", 1, "s1", 0.5, "sound"), ("b", 2, "s2", 0.6, "sound")], RELATED)
    assert_df_equality(related, expected, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.5", True, None])
def test_the_weight_is_a_number_from_0_to_1(bad):
    with pytest.raises(ValueError, match="from 0 to 1"):
        check_weight(bad)
    assert check_weight(1) == 1.0
