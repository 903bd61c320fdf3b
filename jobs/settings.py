"""One frozen settings object per job, built and validated once in its ``main()`` from the config.

The entry points' layer: it reads the config's sections and hands the jobs, sources and publisher
their own validated values, so nothing below it sees the config dict. Errors are ``ConfigError``
with the same texts the jobs always gave.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Mapping

from jobs.common.config import section
from jobs.common.errors import ConfigError
from jobs.common.jdbc import MartTarget
from jobs.common.lake import parse_dt
from jobs.publish.settings import PublishSettings
from jobs.sources.chat_requests import RequestPolicy
from jobs.sources.spotify_settings import SpotifySettings
from jobs.sources.synthetic import SyntheticSpec
from jobs.transform.metrics import check_metric
from jobs.transform.signals import PRESETS, check_shared_tracks, check_signals, check_weights
from jobs.transform.vectors import check_normalization

SOURCES = ("synthetic", "spotify", "tracks-csv")


def lake_path(config: Mapping) -> str:
    """``lake.path`` (empty when unset: ``Lake`` refuses it with a clear message)."""
    return str(section(config, "lake").get("path", ""))


def check_k(value) -> int:
    """``value`` as the related artists per artist; ValueError unless a whole number of at least 1."""
    try:
        k = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"similarity.k must be a whole number, got {value!r}") from None
    if k < 1:
        raise ValueError(f"similarity.k must be at least 1, got {k}")
    return k


def similarity_k(config: Mapping) -> int:
    """``similarity.k``: the related artists per artist the similarity job computes (default 3)."""
    try:
        return check_k(section(config, "similarity").get("k", 3))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


@dataclass(frozen=True)
class SimilaritySettings:
    lake: str
    dt: str | None
    features: tuple[str, ...]
    normalization: str
    metric: str
    k: int
    tasks: int | None
    show: int
    weights: tuple[tuple[str, float], ...] = ()
    shared_tracks: str = "full"

    def parameters(self) -> dict:
        """What the vectors were made of, as recorded with a publish."""
        return {"features": list(self.features), "k": self.k, "metric": self.metric,
                "normalization": self.normalization, "weights": dict(self.weights),
                "shared_tracks": self.shared_tracks}

    @classmethod
    def from_config(cls, config: Mapping) -> "SimilaritySettings":
        """Validated settings from the ``[lake]`` and ``[similarity]`` sections."""
        sim = section(config, "similarity")
        try:
            k = check_k(sim.get("k", 3))
            tasks = sim.get("tasks")
            dt = sim.get("dt")
            base = PRESETS["seed"]
            features = check_signals(sim.get("features", base["features"]))
            if not isinstance(sim.get("weights", {}), Mapping):
                raise ValueError("weights must be a table of feature = weight")
            return cls(
                lake=lake_path(config),
                dt=parse_dt(str(dt)) if dt else None,
                features=features,
                normalization=check_normalization(sim.get("normalization", base["normalization"])),
                metric=check_metric(sim.get("metric", base["metric"])),
                k=k,
                tasks=int(tasks) if tasks else None,
                show=int(sim.get("show", 0)),
                weights=check_weights(sim.get("weights", {}), features),
                shared_tracks=check_shared_tracks(sim.get("shared_tracks", base["shared_tracks"])),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"similarity settings: {exc}") from None


@dataclass(frozen=True)
class MartJobSettings:
    """``jobs/publish_mart.py``'s settings: the lake, the mart's ``[mart]``, and for ``publish`` the k
    its checks expect.

    Only ``similarity.k`` is read from ``[similarity]``, not the whole section: a bad setting the
    publish does not use (a metric, a feature) must not make ``publish`` fail.
    """

    lake: str
    mart: PublishSettings
    k: int | None = None

    @classmethod
    def from_config(cls, config: Mapping, action: str) -> "MartJobSettings":
        mart = PublishSettings.from_config(config)
        return cls(lake=lake_path(config), mart=mart, k=similarity_k(config) if action == "publish" else None)


@dataclass(frozen=True)
class IngestSettings:
    """``[ingest]`` and the chosen source's own settings.

    ``synthetic`` is set for the synthetic source, ``tracks_csv`` (the ``[tracks_csv]`` options) for
    tracks-csv; ``spotify`` and ``policy`` for spotify, with ``mart`` (where the chatbot's requests are)
    when ``requests`` is on. The seeds, seeds file, refresh and requests are read for spotify only.
    """

    source: str
    lake: str
    aliases_csv: str | None = None
    seeds: tuple[str, ...] = ()
    seeds_file: str | None = None
    refresh: bool = False
    requests: bool = False
    synthetic: SyntheticSpec | None = None
    tracks_csv: Mapping | None = None
    spotify: SpotifySettings | None = None
    policy: RequestPolicy | None = None
    mart: MartTarget | None = None

    @classmethod
    def from_config(cls, config: Mapping, env: Mapping[str, str] | None = None) -> "IngestSettings":
        options = section(config, "ingest")
        source = options.get("source", "synthetic")
        if source not in SOURCES:
            raise ConfigError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
        aliases_csv = options.get("aliases_csv")
        common = {"source": source, "lake": lake_path(config), "aliases_csv": str(aliases_csv) if aliases_csv else None}
        if source == "synthetic":
            return cls(**common, synthetic=synthetic_spec(config))
        if source == "tracks-csv":
            return cls(**common, tracks_csv=types.MappingProxyType(dict(section(config, "tracks_csv"))))
        spotify = SpotifySettings.from_config(config, env)
        policy = RequestPolicy.from_config(config)
        requests = bool(options.get("requests", False))
        return cls(**common, seeds=tuple(str(seed) for seed in options.get("seeds", [])),
                   seeds_file=options.get("seeds_file") or None, refresh=bool(options.get("refresh", False)),
                   requests=requests, spotify=spotify, policy=policy,
                   mart=MartTarget.from_config(section(config, "mart"), env) if requests else None)


def synthetic_spec(config: Mapping) -> SyntheticSpec:
    """``[synthetic]`` as a ``SyntheticSpec``."""
    options = section(config, "synthetic")
    try:
        return SyntheticSpec(**options)
    except TypeError as exc:
        raise ConfigError(f"[synthetic] has an unknown setting: {exc}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
