"""The lanes of ``make test`` (tests/support/suite.py): every test runs once at the real clock, the fast
lane and the clock tests once more ahead, and a failed or empty lane fails the suite."""

from __future__ import annotations

import itertools

import pytest
from _pytest.mark.expression import Expression

from tests.support import suite

MARKERS = ("jvm", "serial", "clock")


def selected(lane: suite.Lane, marks: set[str]) -> bool:
    return Expression.compile(lane.markers).evaluate(lambda name, **_: name in marks)


@pytest.mark.parametrize(
    "marks",
    [set(c) for n in range(4) for c in itertools.combinations(MARKERS, n)],
    ids=lambda marks: "+".join(sorted(marks)) or "unmarked",
)
def test_each_test_runs_once_at_the_real_clock_and_the_fast_and_clock_ones_once_ahead(marks):
    jvm, background, serial = suite.lanes(400)
    every = jvm + background + serial
    ahead = [lane for lane in every if "TEST_CLOCK_AHEAD_DAYS" in lane.env]
    real = [lane for lane in every if lane not in ahead]
    assert sum(selected(lane, marks) for lane in real) == 1
    assert sum(selected(lane, marks) for lane in ahead) == (1 if "jvm" not in marks or "clock" in marks else 0)
    # Nothing that asserts wall-clock bounds runs beside the JVM lane.
    assert not any(selected(lane, marks) for lane in background) or "serial" not in marks
    assert all(lane.env["TEST_CLOCK_AHEAD_DAYS"] == "400" for lane in ahead)


def test_the_summary_line_is_read_without_its_time():
    output = "...\n=== 2 failed, 497 passed, 170 deselected, 3 warnings in 77.30s (0:01:17) ===\n"
    assert suite.tally(output) == "2 failed, 497 passed, 170 deselected, 3 warnings"
    assert suite.tally("=== no tests ran in 0.01s ===\n") == "no summary"


def outcome(name: str, status: int) -> suite.Outcome:
    return suite.Outcome(suite.Lane(name, "x"), status, 1.0, "1 passed", (3, 2))


def test_a_failed_or_empty_lane_fails_the_suite_and_the_jobs_of_all_lanes_add_up(capsys):
    assert suite.report([outcome("jvm", 0), outcome("fast", 0)], 9.0) == 0
    out = capsys.readouterr().out
    assert "Spark jobs: 10 (6 in the tests' session JVMs, 4 in job processes)" in out and "suite: passed" in out
    assert suite.report([outcome("jvm", 0), outcome("clock", 5)], 9.0) == 1  # 5: pytest collected nothing
    out = capsys.readouterr().out
    assert "clock         FAILED (pytest exit status 5)" in out and "suite: failed in lanes clock" in out
