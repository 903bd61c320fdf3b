"""The publish's settings: the ``[mart]`` section, read and validated once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from jobs.common.config import section
from jobs.common.errors import ConfigError
from jobs.common.jdbc import MartTarget

# mart.staging_load: LOAD DATA LOCAL INFILE when the server allows it ("auto"), always, or never (jdbc).
STAGING_LOADS = ("auto", "load_data", "jdbc")


@dataclass(frozen=True)
class PublishSettings:
    """The ``[mart]`` section: where the mart is and how to publish to it."""

    target: MartTarget
    publish: bool = True
    tracks_per_artist: int = 3
    max_drop: float = 0.5
    batch_size: int = 10000
    write_partitions: int = 2
    lock_wait_seconds: int = 2     # per attempt: how long the swap may queue readers behind its metadata lock
    lock_attempts: int = 4
    staging_load: str = "auto"     # "auto" | "load_data" | "jdbc": how MySQL staging tables are written

    @classmethod
    def from_config(cls, config: Mapping, env: Mapping[str, str] | None = None) -> "PublishSettings":
        mart = section(config, "mart")
        try:
            settings = cls(
                target=MartTarget.from_config(mart, env),
                publish=bool(mart.get("publish", True)),
                tracks_per_artist=int(mart.get("tracks_per_artist", 3)),
                max_drop=float(mart.get("max_drop", 0.5)),
                batch_size=int(mart.get("batch_size", 10000)),
                write_partitions=int(mart.get("write_partitions", 2)),
                lock_wait_seconds=int(mart.get("lock_wait_seconds", 2)),
                lock_attempts=int(mart.get("lock_attempts", 4)),
                staging_load=str(mart.get("staging_load", "auto")),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"mart settings: {exc}") from None
        if not 0 <= settings.max_drop <= 1:
            raise ConfigError(f"mart.max_drop must be between 0 and 1, got {settings.max_drop}")
        if settings.tracks_per_artist < 1 or settings.batch_size < 1 or settings.write_partitions < 1:
            raise ConfigError("mart.tracks_per_artist, mart.batch_size and mart.write_partitions must be positive")
        if settings.lock_wait_seconds < 1 or settings.lock_attempts < 1:
            raise ConfigError("mart.lock_wait_seconds and mart.lock_attempts must be at least 1")
        if settings.staging_load not in STAGING_LOADS:
            raise ConfigError(f"mart.staging_load must be one of {', '.join(STAGING_LOADS)}, "
                              f"got {settings.staging_load!r}")
        return settings

