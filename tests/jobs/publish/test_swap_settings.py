"""The swap's lock wait, without a database: the ``[mart]`` lock settings as they are read and refused,
and the tries of the swap's ``RENAME TABLE`` (the MariaDB runs are in ``test_lock_and_swap.py``)."""

from __future__ import annotations

import pytest

from jobs.common.config import load_config
from jobs.common.errors import ConfigError, MartError
from jobs.publish import swap
from jobs.publish.settings import PublishSettings
from tests.support.paths import REPO

URL = "jdbc:mysql://db:3306/mart"


def settings(**mart) -> PublishSettings:
    return PublishSettings.from_config({"mart": {"url": URL, **mart}}, {})


def test_the_default_try_is_a_quarter_second_and_the_tries_last_as_long_as_before():
    s = settings()
    assert (s.lock_wait_seconds, s.lock_attempts, s.lookup_budget_seconds) == (0.25, 16, 1.0)
    patience = s.lock_attempts * s.lock_wait_seconds + (s.lock_attempts - 1) * swap.RETRY_PAUSE_SECONDS
    assert patience == 4 * 2 + 0.5 + 1 + 2  # what 4 tries of 2 s with their 0.5, 1, 2 s pauses took
    for profile in ("local.toml", "emr.toml"):
        shipped = PublishSettings.from_config(load_config(REPO / "conf" / profile, [f"mart.url='{URL}'"], env={}), {})
        assert (shipped.lock_wait_seconds, shipped.lock_attempts) == (0.25, 16), profile


@pytest.mark.parametrize("value, seconds", [(0.3, 0.3), ("0.2", 0.2), (0.5, 0.5)])
def test_the_lock_wait_is_read_in_seconds_with_fractions(value, seconds):
    assert settings(lock_wait_seconds=value).lock_wait_seconds == seconds


def test_a_whole_number_of_seconds_is_still_read_where_the_chatbots_budget_allows_it():
    s = settings(lock_wait_seconds=2, lookup_budget_seconds=5)
    assert s.lock_wait_seconds == 2.0 and isinstance(s.lock_wait_seconds, float)


@pytest.mark.parametrize("value", [0, -0.25, 0.51, 2, float("nan"), float("inf")])
def test_a_lock_wait_of_more_than_half_the_chatbots_budget_is_refused_with_the_reason(value):
    with pytest.raises(
        ConfigError,
        match=r"mart.lock_wait_seconds must be more than 0 and at most 0.5 s \(half of "
        r"mart.lookup_budget_seconds=1, the chatbot's statement budget\).*"
        r"lookups queue behind each try.*Use 0.25 and more mart.lock_attempts",
    ):
        settings(lock_wait_seconds=value)


@pytest.mark.parametrize(
    "mart, message",
    [
        ({"lock_wait_seconds": "soon"}, "mart settings: could not convert string to float"),
        ({"lock_attempts": 0}, "mart.lock_attempts must be at least 1, got 0"),
        ({"lookup_budget_seconds": 0}, "mart.lookup_budget_seconds must be a positive number of seconds"),
    ],
)
def test_other_bad_lock_settings_are_refused(mart, message):
    with pytest.raises(ConfigError, match=message):
        settings(**mart)


# -- the tries -----------------------------------------------------------------------------------------------


class FakeConnection:
    """Runs nothing: raises the given errors for the first statements, then succeeds."""

    def __init__(self, *errors: str):
        self.errors, self.statements = list(errors), []

    def execute(self, sql: str, params=()) -> int:
        self.statements.append(sql)
        if self.errors:
            raise RuntimeError(self.errors.pop(0))
        return 0


@pytest.fixture
def pauses(monkeypatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(swap.time, "sleep", slept.append)
    return slept


def test_on_mariadb_a_try_is_cut_by_its_own_statement_time_and_on_mysql_by_the_whole_second_lock_wait():
    rename = "RENAME TABLE artists TO artists__previous, artists__staging TO artists"
    assert swap.timed_rename(rename, 0.25, mariadb=True) == f"SET STATEMENT max_statement_time = 0.250 FOR {rename}"
    assert swap.timed_rename(rename, 0.0001, mariadb=True).startswith("SET STATEMENT max_statement_time = 0.001 ")
    assert swap.timed_rename(rename, 0.25, mariadb=False) == rename


def test_tries_that_time_out_are_retried_after_a_short_pause_each_verifying_the_lock(pauses):
    timeout = "Query execution was interrupted (max_statement_time exceeded)"
    conn, verified = FakeConnection(timeout, "Lock wait timeout exceeded; try restarting transaction", timeout), []
    swap.rename_with_retries(conn, "RENAME TABLE a TO b", "publish", verified.append, 0.25, 4)
    assert conn.statements == ["RENAME TABLE a TO b"] * 4
    assert pauses == [swap.RETRY_PAUSE_SECONDS] * 3 and verified == ["publish"] * 3


def test_the_last_try_that_times_out_fails_the_swap_with_the_settings_named(pauses):
    conn = FakeConnection(*["Query execution was interrupted (max_statement_time exceeded)"] * 3)
    with pytest.raises(
        MartError,
        match=r"the swap did not happen, the live set is unchanged: .*max_statement_time "
        r"exceeded.*attempt 3 of mart.lock_attempts=3, each waiting at most "
        r"mart.lock_wait_seconds=0.25 s",
    ):
        swap.rename_with_retries(conn, "RENAME TABLE a TO b", "publish", lambda action: None, 0.25, 3)
    assert len(conn.statements) == 3 and len(pauses) == 2


def test_another_error_is_not_retried(pauses):
    conn = FakeConnection("Table 'mart.a' doesn't exist")
    with pytest.raises(MartError, match="doesn't exist .*attempt 1 of mart.lock_attempts=16"):
        swap.rename_with_retries(conn, "RENAME TABLE a TO b", "publish", lambda action: None, 0.25, 16)
    assert pauses == []
