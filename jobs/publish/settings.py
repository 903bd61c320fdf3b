"""The publish's settings: the ``[mart]`` section, read and validated once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jobs.common.config import section
from jobs.common.errors import ConfigError
from jobs.common.jdbc import MartTarget

# mart.staging_load: LOAD DATA LOCAL INFILE when the server allows it ("auto"), always, or never (jdbc).
STAGING_LOADS = ("auto", "load_data", "jdbc")

# The chatbot's statement budget, its DB_TIMEOUT_SECONDS (chatbot_lambda/settings.py): the server stops
# a lookup after it, time spent queued behind the swap included, and the user gets the apology.
LOOKUP_BUDGET_SECONDS = 1.0


@dataclass(frozen=True)
class PublishSettings:
    """The ``[mart]`` section: where the mart is and how to publish to it.

    ``lock_wait_seconds`` (float, seconds; an older config's whole number is read as it is, and
    held to the same bound) is how long one try of the swap's ``RENAME TABLE`` waits for readers'
    metadata locks. Every lookup that arrives meanwhile queues behind it, and its time in the queue
    counts against the chatbot's statement budget, ``lookup_budget_seconds`` (the chatbot's
    ``DB_TIMEOUT_SECONDS``, 1.0 s): hence more than 0 and at most half of that budget (0.5 s by
    default), the other half left for the lookup itself and for the server's timer, which ends a
    try a few milliseconds late. The swap tries ``lock_attempts`` times, pausing
    ``swap.RETRY_PAUSE_SECONDS`` (0.5 s) between tries: the defaults, 16 tries of 0.25 s, wait for
    a reader as long as 4 tries of 2 s used to (11.5 s in all). MariaDB cuts a try at the fraction
    of a second; MySQL waits whole seconds (at least 1 s per try, see ``swap.py``).
    """

    target: MartTarget
    publish: bool = True
    tracks_per_artist: int = 3
    max_drop: float = 0.5
    batch_size: int = 10000
    write_partitions: int = 2
    lock_wait_seconds: float = 0.25  # per try: how long the swap may queue lookups behind its metadata lock
    lock_attempts: int = 16
    lookup_budget_seconds: float = LOOKUP_BUDGET_SECONDS  # the chatbot's DB_TIMEOUT_SECONDS
    staging_load: str = "auto"  # "auto" | "load_data" | "jdbc": how MySQL staging tables are written

    @classmethod
    def from_config(cls, config: Mapping, env: Mapping[str, str] | None = None) -> PublishSettings:
        mart = section(config, "mart")
        try:
            settings = cls(
                target=MartTarget.from_config(mart, env),
                publish=bool(mart.get("publish", True)),
                tracks_per_artist=int(mart.get("tracks_per_artist", 3)),
                max_drop=float(mart.get("max_drop", 0.5)),
                batch_size=int(mart.get("batch_size", 10000)),
                write_partitions=int(mart.get("write_partitions", 2)),
                lock_wait_seconds=float(mart.get("lock_wait_seconds", 0.25)),
                lock_attempts=int(mart.get("lock_attempts", 16)),
                lookup_budget_seconds=float(mart.get("lookup_budget_seconds", LOOKUP_BUDGET_SECONDS)),
                staging_load=str(mart.get("staging_load", "auto")),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"mart settings: {exc}") from None
        if not 0 <= settings.max_drop <= 1:
            raise ConfigError(f"mart.max_drop must be between 0 and 1, got {settings.max_drop}")
        if settings.tracks_per_artist < 1 or settings.batch_size < 1 or settings.write_partitions < 1:
            raise ConfigError("mart.tracks_per_artist, mart.batch_size and mart.write_partitions must be positive")
        if settings.lock_attempts < 1:
            raise ConfigError(f"mart.lock_attempts must be at least 1, got {settings.lock_attempts}")
        if not 0 < settings.lookup_budget_seconds < float("inf"):
            raise ConfigError(
                f"mart.lookup_budget_seconds must be a positive number of seconds (the chatbot's "
                f"DB_TIMEOUT_SECONDS), got {settings.lookup_budget_seconds:g}"
            )
        most = settings.lookup_budget_seconds / 2
        if not 0 < settings.lock_wait_seconds <= most:
            raise ConfigError(
                f"mart.lock_wait_seconds must be more than 0 and at most {most:g} s (half of "
                f"mart.lookup_budget_seconds={settings.lookup_budget_seconds:g}, the chatbot's statement budget), "
                f"got {settings.lock_wait_seconds:g}: chatbot lookups queue behind each try of the swap for that "
                f"long. Use 0.25 and more mart.lock_attempts for the same patience"
            )
        if settings.staging_load not in STAGING_LOADS:
            raise ConfigError(
                f"mart.staging_load must be one of {', '.join(STAGING_LOADS)}, got {settings.staging_load!r}"
            )
        return settings
