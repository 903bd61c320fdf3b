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
from jobs.sources.listens import ListensSettings
from jobs.sources.spotify_settings import SpotifySettings
from jobs.sources.synthetic import SyntheticSpec
from jobs.transform.blend import check_weight
from jobs.transform.listeners import CoListening
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
    listeners_weight: float = 0.0
    co_listening: CoListening = CoListening()
    candidates: int = 10
    listeners_method: str = "co-occurrence"

    def parameters(self) -> dict:
        """What the vectors (and the blend with listening data) were made of, as recorded with a publish."""
        made = {"features": list(self.features), "k": self.k, "metric": self.metric,
                "normalization": self.normalization, "weights": dict(self.weights),
                "shared_tracks": self.shared_tracks, "listeners_weight": self.listeners_weight}
        if self.listeners_weight:
            made["listeners"] = {"method": self.listeners_method, "candidates": self.candidates,
                                 **vars(self.co_listening)}
        return made

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
                listeners_weight=check_weight(sim.get("listeners_weight", 0.0)),
                co_listening=co_listening(section(config, "listeners")),
                candidates=_whole(section(config, "listeners").get("candidates", 10), "listeners.candidates", 1),
                listeners_method=check_method(section(config, "listeners").get("method", "co-occurrence")),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"similarity settings: {exc}") from None


def _whole(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be a whole number of at least {low}, got {value!r}")
    return value


LISTENERS_METHODS = ("co-occurrence", "als")


def check_method(value) -> str:
    if value not in LISTENERS_METHODS:
        raise ValueError(f"listeners.method must be one of {', '.join(LISTENERS_METHODS)}, got {value!r}")
    return value


def co_listening(listeners: Mapping) -> CoListening:
    """``[listeners]``: how co-occurrence in listening contexts becomes a similarity (``CoListening``)."""
    unknown = set(listeners) - set(vars(CoListening())) - {"candidates", "method"}
    if unknown:
        raise ValueError(f"unknown listeners settings: {', '.join(sorted(unknown))}")
    whole = {name: _whole(listeners[name], f"listeners.{name}", 1)
             for name in ("top_n", "min_support", "min_contexts", "chat_min_users", "chat_cap") if name in listeners}
    shrinkage = listeners.get("shrinkage", CoListening.shrinkage)
    if isinstance(shrinkage, bool) or not isinstance(shrinkage, (int, float)) or not 0 <= shrinkage < 1e6:
        raise ValueError(f"listeners.shrinkage must be a number from 0, got {shrinkage!r}")
    return CoListening(shrinkage=float(shrinkage), **whole)


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
    ``listens`` (any source) is set when ``listens.path`` is: the listening data to match, with its key.
    ``chat_listens`` (any source, with ``chat_target``, the mart): copy the chatbot's answers per user to
    ``artist_contexts`` (``ChatListens``).
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
    listens: ListensSettings | None = None
    chat_listens: ChatListens | None = None
    chat_target: MartTarget | None = None

    @classmethod
    def from_config(cls, config: Mapping, env: Mapping[str, str] | None = None) -> "IngestSettings":
        options = section(config, "ingest")
        source = options.get("source", "synthetic")
        if source not in SOURCES:
            raise ConfigError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
        aliases_csv = options.get("aliases_csv")
        chat = ChatListens.from_config(options)
        common = {"source": source, "lake": lake_path(config), "aliases_csv": str(aliases_csv) if aliases_csv else None,
                  "listens": ListensSettings.from_config(config, env), "chat_listens": chat,
                  "chat_target": MartTarget.from_config(section(config, "mart"), env) if chat else None}
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


@dataclass(frozen=True)
class ChatListens:
    """``ingest.chat_listens``: copy the mart's ``chat_listens`` (what the chatbot answered, per signed user)
    to ``artist_contexts``, keeping ``retention_days`` of it, each (user, artist) weighing the days asked,
    at most ``weight_cap``."""

    retention_days: int = 90
    weight_cap: int = 7

    @classmethod
    def from_config(cls, options: Mapping) -> "ChatListens | None":
        if not options.get("chat_listens", False):
            return None
        retention = options.get("chat_retention_days", cls.retention_days)
        cap = options.get("chat_weight_cap", cls.weight_cap)
        for name, value in (("chat_retention_days", retention), ("chat_weight_cap", cap)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"ingest.{name} must be a whole number of at least 1, got {value!r}")
        return cls(retention_days=retention, weight_cap=cap)


def synthetic_spec(config: Mapping) -> SyntheticSpec:
    """``[synthetic]`` as a ``SyntheticSpec``."""
    options = section(config, "synthetic")
    try:
        return SyntheticSpec(**options)
    except TypeError as exc:
        raise ConfigError(f"[synthetic] has an unknown setting: {exc}") from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
