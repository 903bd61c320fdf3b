"""One frozen settings object per job, built and validated once in its ``main()`` from the config.

The entry points' layer: it reads the config's sections and hands the jobs, sources and publisher
their own validated values, so nothing below it sees the config dict. Errors are ``ConfigError``
with the same texts the jobs always gave.
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jobs.common.config import section, set_path
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

# Related artists per artist, when the config does not say (similarity.k, evaluate.k): the three the
# chatbot shows beside an artist's top tracks (its cards, within Kakao's limit of a reply's outputs).
# The one place this default is written: the jobs' help texts and their tests read it from here.
DEFAULT_K = 3


def lake_path(config: Mapping) -> str:
    """``lake.path`` (empty when unset: ``Lake`` refuses it with a clear message)."""
    return str(section(config, "lake").get("path", ""))


def check_k(value, name: str = "similarity.k") -> int:
    """``value`` as the related artists per artist; ValueError (naming the setting ``name``) unless a whole
    number of at least 1."""
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        k = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if k < 1:
        raise ValueError(f"{name} must be at least 1, got {k}")
    return k


def similarity_k(config: Mapping) -> int:
    """``similarity.k``: the related artists per artist the similarity job computes (default ``DEFAULT_K``)."""
    try:
        return check_k(section(config, "similarity").get("k", DEFAULT_K))
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
        made = {
            "features": list(self.features),
            "k": self.k,
            "metric": self.metric,
            "normalization": self.normalization,
            "weights": dict(self.weights),
            "shared_tracks": self.shared_tracks,
            "listeners_weight": self.listeners_weight,
        }
        if self.listeners_weight:
            made["listeners"] = {
                "method": self.listeners_method,
                "candidates": self.candidates,
                **vars(self.co_listening),
            }
        return made

    @classmethod
    def from_config(cls, config: Mapping) -> SimilaritySettings:
        """Validated settings from the ``[lake]`` and ``[similarity]`` sections."""
        sim = section(config, "similarity")
        try:
            k = check_k(sim.get("k", DEFAULT_K))
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
    whole = {
        name: _whole(listeners[name], f"listeners.{name}", 1)
        for name in ("top_n", "min_support", "min_contexts", "chat_min_users", "chat_cap")
        if name in listeners
    }
    shrinkage = listeners.get("shrinkage", CoListening.shrinkage)
    if isinstance(shrinkage, bool) or not isinstance(shrinkage, (int, float)) or not 0 <= shrinkage < 1e6:
        raise ValueError(f"listeners.shrinkage must be a number from 0, got {shrinkage!r}")
    return CoListening(shrinkage=float(shrinkage), **whole)


SIGNAL_KEYS = ("features", "normalization", "metric", "weights", "shared_tracks", "listeners_weight")


def apply_signal_settings(config: dict, preset: Mapping | None = None) -> None:
    """Replace ``[similarity]``'s signal settings by ``preset``'s, then by ``similarity.weights_file``'s."""
    if preset is not None:
        for key in SIGNAL_KEYS:
            if key in preset:
                set_path(config, f"similarity.{key}", preset[key])
    path = section(config, "similarity").get("weights_file")
    if path:
        for key, value in read_weights_file(str(path)).items():
            set_path(config, f"similarity.{key}", value)


def read_weights_file(path: str) -> dict:
    """The signal settings of a ``[similarity]`` TOML file (see jobs/evaluate.py --fit)."""
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("similarity")
    except FileNotFoundError:
        raise ConfigError(f"weights file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"weights file {path} is not valid TOML: {exc}") from None
    if not isinstance(table, dict):
        raise ConfigError(f"weights file {path} has no [similarity] table")
    return {key: table[key] for key in SIGNAL_KEYS if key in table}


# --compare keys=value changes (jobs/evaluate.py) besides the feature list; weights.<feature> too.
COMPARE_KEYS = ("normalization", "metric", "shared_tracks")


def compared_settings(config: Mapping, spec: str) -> SimilaritySettings:
    """The similarity settings a ``--compare`` value of jobs/evaluate.py names (see its epilog): a preset, a
    ``.toml`` file, ``key=value;...`` changes of the config's, or ``config``."""
    local = copy.deepcopy(config)
    if spec in PRESETS:
        apply_signal_settings(local, PRESETS[spec])
    elif spec.endswith(".toml"):
        set_path(local, "similarity.weights_file", spec)
        apply_signal_settings(local)
    elif "=" in spec:
        apply_signal_settings(local)
        for part in filter(None, (p.strip() for p in spec.split(";"))):
            key, _, value = part.partition("=")
            set_path(local, f"similarity.{key.strip()}", _compared_value(spec, key.strip(), value))
    elif spec == "config":
        apply_signal_settings(local)
    else:
        raise ConfigError(
            f"--compare {spec!r}: not a preset ({', '.join(sorted(PRESETS))}), 'published', "
            "'config', a .toml file or key=value pairs"
        )
    return SimilaritySettings.from_config(local)


def _compared_value(spec: str, key: str, value: str):
    """The typed value of one ``key=value`` of a ``--compare`` spec; ConfigError for an unknown key."""
    if key == "features":
        return [v.strip() for v in value.split(",") if v.strip()]
    if key.startswith("weights."):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"--compare {spec!r}: {key} needs a number, got {value!r}") from None
    if key in COMPARE_KEYS:
        return value.strip()
    raise ConfigError(
        f"--compare {spec!r}: unknown key {key!r} (features, normalization, metric, weights.<feature>, shared_tracks)"
    )


@dataclass(frozen=True)
class EvaluateSettings:
    """``jobs/evaluate.py``'s settings: ``[evaluate]``, the config's own similarity settings (``base``: the lake,
    the held-out listeners, the map when only ``published`` is compared) and each compared setting.

    ``compared`` holds ``(label, settings)`` per ``--compare`` value, in order: ``None`` for ``published``
    (the lake's related_artists), else its similarity settings with at least ``k`` related artists. All
    are built here, before Spark starts: a bad value is a ``ConfigError``.
    """

    base: SimilaritySettings
    compared: tuple[tuple[str, SimilaritySettings | None], ...]
    k: int = DEFAULT_K
    dt: str | None = None
    draws: int = 20  # random artists per query for the random baseline
    genres: int = 20  # genres shown in the per-genre precision
    fit: bool = False
    fit_seed: int = 7
    fit_passes: int = 2
    fit_out: str | None = None
    report: str = "data/evaluation"  # the report's folder is <report>/<dt> unless report_dir is given
    report_dir: str | None = None

    @property
    def fit_setting(self) -> SimilaritySettings:
        """The setting ``--fit`` learns weights for: the first computed one, else the config's."""
        return next((setting for _, setting in self.compared if setting is not None), self.base)

    @classmethod
    def from_config(
        cls,
        config: Mapping,
        specs: Sequence[str] = ("published",),
        *,
        dt: str | None = None,
        fit: bool = False,
        fit_out: str | None = None,
        report_dir: str | None = None,
    ) -> EvaluateSettings:
        """Validated settings from ``[evaluate]``, ``[similarity]`` (signal settings already applied, as
        ``apply_signal_settings`` does) and the ``--compare`` values ``specs``."""
        options = section(config, "evaluate")
        try:
            k = check_k(options.get("k", DEFAULT_K), "evaluate.k")
            whole = {
                name: _whole(options.get(name, default), f"evaluate.{name}", low)
                for name, default, low in (
                    ("draws", 20, 1),
                    ("genres", 20, 1),
                    ("fit_seed", 7, 0),
                    ("fit_passes", 2, 1),
                )
            }
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        base = SimilaritySettings.from_config(config)
        compared = tuple(
            (spec, None if spec == "published" else _at_least_k(compared_settings(config, spec), k)) for spec in specs
        )
        return cls(
            base=base,
            compared=compared,
            k=k,
            dt=dt,
            fit=fit,
            fit_out=fit_out,
            report_dir=report_dir,
            report=str(options.get("report", "data/evaluation")),
            **whole,
        )


def _at_least_k(settings: SimilaritySettings, k: int) -> SimilaritySettings:
    """``settings`` computing at least ``k`` related artists per artist: enough for precision@k."""
    return dataclasses.replace(settings, k=max(settings.k, k))


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
    def from_config(cls, config: Mapping, action: str) -> MartJobSettings:
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
    def from_config(cls, config: Mapping, env: Mapping[str, str] | None = None) -> IngestSettings:
        options = section(config, "ingest")
        source = options.get("source", "synthetic")
        if source not in SOURCES:
            raise ConfigError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
        aliases_csv = options.get("aliases_csv")
        chat = ChatListens.from_config(options)
        common = {
            "source": source,
            "lake": lake_path(config),
            "aliases_csv": str(aliases_csv) if aliases_csv else None,
            "listens": ListensSettings.from_config(config, env),
            "chat_listens": chat,
            "chat_target": MartTarget.from_config(section(config, "mart"), env) if chat else None,
        }
        if source == "synthetic":
            return cls(**common, synthetic=synthetic_spec(config))
        if source == "tracks-csv":
            return cls(**common, tracks_csv=types.MappingProxyType(dict(section(config, "tracks_csv"))))
        spotify = SpotifySettings.from_config(config, env)
        policy = RequestPolicy.from_config(config)
        requests = bool(options.get("requests", False))
        return cls(
            **common,
            seeds=tuple(str(seed) for seed in options.get("seeds", [])),
            seeds_file=options.get("seeds_file") or None,
            refresh=bool(options.get("refresh", False)),
            requests=requests,
            spotify=spotify,
            policy=policy,
            mart=MartTarget.from_config(section(config, "mart"), env) if requests else None,
        )


@dataclass(frozen=True)
class ChatListens:
    """``ingest.chat_listens``: copy the mart's ``chat_listens`` (what the chatbot answered, per signed user)
    to ``artist_contexts``, keeping ``retention_days`` of it, each (user, artist) weighing the days asked,
    at most ``weight_cap``."""

    retention_days: int = 90
    weight_cap: int = 7

    @classmethod
    def from_config(cls, options: Mapping) -> ChatListens | None:
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
