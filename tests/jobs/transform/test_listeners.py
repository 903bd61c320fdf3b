"""Co-listening similarity on tiny frames with known answers: caps, support, shrinkage and chat's bounds."""

from __future__ import annotations

import math

import pytest
from chispa import assert_df_equality

from jobs.transform.co_counts import co_listened_sparse
from jobs.transform.listeners import (
    CoListening,
    co_listened,
    context_sets,
    item_counts,
    pair_counts,
    similarities,
    top_listened,
)

CONTEXTS = "context_id string, item int, weight double, source string"


def rows(spec: dict[str, list[int]], source: str = "hetrec", weight: float = 1.0) -> list[tuple]:
    return [(context, item, weight, source) for context, items in spec.items() for item in items]


@pytest.fixture
def small(spark):
    # c1 holds 1, 2, 3; c2 holds 1, 2; c3 holds 2, 3; c4 holds 1 alone.
    return spark.createDataFrame(rows({"c1": [1, 2, 3], "c2": [2, 1], "c3": [3, 2], "c4": [1]}), CONTEXTS)


def test_context_sets_keep_the_top_n_by_weight_sorted_ties_by_item(spark):
    contexts = spark.createDataFrame(
        [
            ("c", 5, 1.0, "x"),
            ("c", 3, 9.0, "x"),
            ("c", 4, 1.0, "x"),
            ("c", 7, 0.0, "x"),
            ("c", 9, 5.0, "x"),
            ("d", 1, 2.0, "chat"),
        ],
        CONTEXTS,
    )
    sets = context_sets(contexts, top_n=3)
    expected = spark.createDataFrame(
        [("c", False, [3, 4, 9]), ("d", True, [1])], "context_id string, chat boolean, items array<int>"
    )
    assert_df_equality(sets, expected, ignore_row_order=True, ignore_nullable=True)


def test_counts_pairs_and_similarity_known_answer(spark, small):
    options = CoListening(min_support=2, shrinkage=0.0)
    sets = context_sets(small, options.top_n)
    counts = item_counts(sets, options)
    assert sorted(map(tuple, counts.collect())) == [(1, 3), (2, 3), (3, 2)]
    pairs = pair_counts(sets, options)
    assert sorted(map(tuple, pairs.collect())) == [(1, 2, 2), (2, 3, 2)]  # (1, 3) shares only c1
    scored = {(r.item, r.other): r.similarity for r in similarities(pairs, counts, 0.0).collect()}
    assert scored == pytest.approx({(1, 2): 2 / 3, (2, 1): 2 / 3, (2, 3): 2 / math.sqrt(6), (3, 2): 2 / math.sqrt(6)})


def test_shrinkage_lowers_pairs_with_little_support_most(spark, small):
    sets = context_sets(small, 50)
    counts = item_counts(sets, CoListening())
    pairs = pair_counts(sets, CoListening(min_support=1))
    shrunk = {(r.item, r.other): r.similarity for r in similarities(pairs, counts, 5.0).collect()}
    assert shrunk[(1, 3)] == pytest.approx(1 / (math.sqrt(6) + 5))
    assert shrunk[(1, 2)] == pytest.approx(2 / (3 + 5))


def test_top_listened_ranks_by_similarity_then_id(spark):
    scored = spark.createDataFrame(
        [(1, 4, 2, 0.5), (1, 3, 2, 0.5), (1, 2, 5, 0.9), (1, 5, 1, 0.1), (2, 1, 5, 0.9)],
        "item int, other int, together long, similarity double",
    )
    expected = spark.createDataFrame(
        [(1, 1, 2, 0.9), (1, 2, 3, 0.5), (1, 3, 4, 0.5), (2, 1, 1, 0.9)],
        "item int, rank int, other int, similarity double",
    )
    assert_df_equality(top_listened(scored, 3), expected, ignore_row_order=True, ignore_nullable=True)


def test_the_per_context_cap_bounds_the_pairs(spark):
    # One context of 200 artists would make 19,900 pairs; capped at 10 it makes 45.
    contexts = spark.createDataFrame(
        [("big", i, float(1000 - i), "x") for i in range(200)]
        + [("big2", i, float(1000 - i), "x") for i in range(200)],
        CONTEXTS,
    )
    pairs = pair_counts(context_sets(contexts, top_n=10), CoListening(top_n=10, min_support=1))
    assert pairs.count() == 45
    assert {r.item for r in pairs.select("item").collect()} <= set(range(10))  # the heaviest artists


def test_one_user_asking_a_thousand_times_is_one_context(spark):
    flood = spark.createDataFrame([("u1", item, 1.0, "chat") for _ in range(1000) for item in (1, 2)], CONTEXTS)
    assert (
        co_listened(flood, 3, CoListening(min_support=1, min_contexts=1, chat_min_users=1)).count() == 2
    )  # 1<->2 once
    assert co_listened(flood, 3, CoListening(min_support=2)).count() == 0  # one user is one context


def test_a_crowd_of_new_chat_users_is_bounded(spark):
    # 30 real listeners hold 1 and 2 together, 3 and 4 together. Then 1,000 made-up chat users all "listen"
    # to 1 and 3: their part counts at most chat_cap, so 1's and 3's real neighbours stay first.
    real = rows({f"r{i}": [1, 2] for i in range(30)}) + rows({f"s{i}": [3, 4] for i in range(30)})
    crowd = rows({f"u{i}": [1, 3] for i in range(1000)}, source="chat")
    options = CoListening(min_support=2, min_contexts=1, chat_min_users=5, chat_cap=20)
    top = {
        (r.item, r.rank): r.other
        for r in co_listened(spark.createDataFrame(real + crowd, CONTEXTS), 2, options).collect()
    }
    assert top[(1, 1)] == 2 and top[(3, 1)] == 4
    few = rows({f"u{i}": [2, 4] for i in range(4)}, source="chat")  # fewer than chat_min_users: not counted
    pairs = co_listened(spark.createDataFrame(real + few, CONTEXTS), 3, options)
    assert pairs.where("item = 2 AND other = 4").count() == 0


def test_results_do_not_depend_on_row_order(spark, small):
    shuffled = small.orderBy("weight", "context_id").repartition(3)
    options = CoListening(min_support=1, min_contexts=1)
    assert_df_equality(co_listened(small, 2, options), co_listened(shuffled, 2, options), ignore_row_order=True)


def test_items_in_too_few_contexts_get_no_listened_neighbours(spark, small):
    listened = co_listened(small, 3, CoListening(min_support=1, min_contexts=3))
    assert {r.item for r in listened.select("item").distinct().collect()} == {1, 2}  # 3 is in two contexts
    assert {r.other for r in listened.where("item = 1").collect()} == {2, 3}  # ... yet still proposed


@pytest.mark.parametrize(
    "options",
    [
        CoListening(min_support=1, min_contexts=1, shrinkage=0.0),
        CoListening(top_n=3, min_support=2, min_contexts=2, chat_min_users=2, chat_cap=3),
    ],
)
def test_the_sparse_products_give_the_dataframe_rows_bit_for_bit(spark, options):
    import random

    rng = random.Random(5)
    rows_ = [
        (f"c{c}", rng.randrange(40), float(rng.randrange(1, 9)), "chat" if c % 4 == 0 else "hetrec")
        for c in range(120)
        for _ in range(rng.randrange(1, 9))
    ]
    contexts = spark.createDataFrame(rows_, CONTEXTS)
    expected = sorted(map(tuple, co_listened(contexts, 4, options).collect()))
    # Tiny tasks: blocks of a few items each, so that block edges are crossed.
    got = sorted(map(tuple, co_listened_sparse(spark, contexts, 40, 4, options, task_pairs=50).collect()))
    assert got == expected and len(got) > 40
