"""How the suite is split when it runs on pytest-xdist workers (``make test-parallel``); ``make test`` runs
everything in one process, in file order, and ignores this.

* ``SERIAL`` are the modules, or single tests, that assert wall-clock bounds (a reply within 1.5 s, a retry
  after its back-off, a lock wait, a kill inside a window): they get the ``serial`` marker, and the parallel
  target runs them in a second pass of their own, on an otherwise idle machine. Their bounds stay as they
  are. Whole modules where they are cheap; single tests where the rest of the module is Spark-heavy.
* ``SLOW_FIRST`` are the modules that take minutes; under ``--dist loadfile`` a worker takes whole files in
  collection order, so they are collected first, and no worker starts one of them near the end.

Paths are relative to the repository, as in a test's node id.
"""

from __future__ import annotations

SERIAL = (
    "tests/chatbot_lambda/test_faults.py",
    "tests/chatbot_lambda/test_live_lookups.py",
    "tests/chatbot_lambda/test_skill_server.py",
    "tests/mart/test_serving.py",
    "tests/shared/test_secrets.py",
    "tests/jobs/common/test_jdbc.py::test_bad_settings_fail_fast_with_what_to_fix",
    "tests/jobs/publish/test_lock_and_swap.py::test_a_second_publish_or_rollback_is_refused_while_one_holds_the_lock",
    "tests/jobs/publish/test_lock_and_swap.py::"
    "test_every_lookup_during_a_publish_that_cannot_get_the_lock_is_answered_within_the_chatbots_budget",
    "tests/jobs/publish/test_lock_and_swap.py::"
    "test_lookups_wait_at_most_the_short_lock_wait_while_the_swap_queues_behind_a_reader",
    "tests/jobs/sources/test_ingest_spotify.py::test_a_429_waits_retry_after_and_gets_everything",
    "tests/jobs/sources/test_ingest_spotify.py::test_a_permanent_429_stops_after_a_bounded_number_of_waits",
    "tests/jobs/sources/test_ingest_spotify.py::test_timeouts_are_bounded",
    "tests/jobs/sources/test_ingest_spotify.py::test_a_trickling_answer_is_cut_off_at_the_request_timeout_and_retried",
    "tests/jobs/sources/test_ingest_spotify.py::test_an_oversized_answer_stops_with_a_clear_error_unread",
    "tests/jobs/sources/test_ingest_spotify.py::test_a_slow_token_endpoint_is_bounded",
    "tests/jobs/sources/test_ingest_spotify.py::"
    "test_a_run_killed_midway_leaves_the_dt_as_it_was_and_a_rerun_gives_one_copy",
    "tests/jobs/test_publish_mart.py::"
    "test_a_publish_killed_during_its_staging_writes_leaves_the_live_set_and_the_next_run_succeeds",
    "tests/jobs/test_publish_mart.py::test_cli_refuses_publish_and_rollback_while_another_holds_the_lock",
)

SLOW_FIRST = (
    "tests/scripts/test_emr_standalone.py",
    "tests/jobs/test_similarity_job.py",
    "tests/jobs/common/test_lake.py",
    "tests/jobs/sources/test_ingest_tracks_csv.py",
    "tests/jobs/common/test_s3_lake.py",
    "tests/jobs/publish/test_mart.py",
    "tests/jobs/evaluation/test_evaluation.py",
    "tests/jobs/test_alias_loop.py",
    "tests/jobs/sources/test_ingest_requests.py",
    "tests/jobs/test_pipeline.py",
)


def module_of(nodeid: str) -> str:
    """The file part of a test's node id."""
    return nodeid.split("::", 1)[0]


def is_serial(nodeid: str) -> bool:
    """True for a test of a ``SERIAL`` module, or a ``SERIAL`` test with any of its parameters."""
    return any(nodeid == entry or nodeid.startswith((entry + "::", entry + "[")) for entry in SERIAL)


def slow_first_rank(nodeid: str) -> int:
    """Sort key that moves the ``SLOW_FIRST`` modules to the front, in that order, and keeps the rest's order
    (with a stable sort)."""
    module = module_of(nodeid)
    return SLOW_FIRST.index(module) if module in SLOW_FIRST else len(SLOW_FIRST)
