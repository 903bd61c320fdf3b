"""Job configuration: one TOML file per environment in ``conf/``, plus overrides.

A config is a nested dict read from TOML. ``${NAME}`` inside a string value is
replaced by the environment variable ``NAME`` when the file is loaded, so
buckets and endpoints can differ per deployment without editing files; secrets
never belong in these files.

Overrides use dotted keys (``similarity.k=5``); a part holding dots is quoted,
as in TOML (``spark.conf."spark.driver.memory"=8g``). The value is read as a TOML
value when it parses as one (numbers, booleans, ``["a", "b"]``) and as a plain
string otherwise.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jobs.common.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "conf" / "local.toml"

_KEY_PART = re.compile(r'(?:"([^"]+)"|([^."=\s]+))(\.|$)')
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def load_config(
    path: str | os.PathLike | None = None, overrides: Iterable[str] = (), env: Mapping[str, str] | None = None
) -> dict:
    """Read ``path`` (default ``conf/local.toml``), expand ``${VAR}`` and apply overrides."""
    path = Path(path) if path else DEFAULT_CONFIG
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    config = _expand_env(raw, os.environ if env is None else env, str(path))
    for item in overrides:
        key, value = parse_override(item)
        set_path(config, key, value)
    return config


def parse_override(item: str) -> tuple[str, Any]:
    """Split ``section.key=value`` into the dotted key and a typed value."""
    key, sep, text = item.partition("=")
    key = key.strip()
    text = text.strip()
    if not sep or not text or split_key(key) is None:
        raise ConfigError(f"override {item!r} is not of the form section.key=value")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    return key, value


def set_path(config: dict, dotted_key: str, value: Any) -> None:
    """Set ``config[a][b][c] = value`` for ``dotted_key`` ``a.b.c``, creating sections."""
    parts = split_key(dotted_key)
    if parts is None:
        raise ConfigError(f"{dotted_key!r} is not a dotted key")
    *sections, last = parts
    node = config
    for name in sections:
        child = node.setdefault(name, {})
        if not isinstance(child, dict):
            raise ConfigError(f"cannot set {dotted_key}: {name} is a value, not a section")
        node = child
    node[last] = value


def split_key(dotted_key: str) -> list[str] | None:
    """``a."b.c".d`` -> ``["a", "b.c", "d"]``; None when the key is malformed."""
    parts, pos = [], 0
    while pos < len(dotted_key):
        match = _KEY_PART.match(dotted_key, pos)
        if match is None:
            return None
        quoted, bare, sep = match.groups()
        parts.append(quoted if quoted is not None else bare)
        pos = match.end()
        if sep == "":
            return parts if pos == len(dotted_key) else None
    return None


def section(config: Mapping, name: str) -> dict:
    """A copy of one top-level section (empty when the file has none)."""
    value = config.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a section")
    return copy.deepcopy(value)


def _expand_env(node: Any, env: Mapping[str, str], where: str) -> Any:
    if isinstance(node, dict):
        return {k: _expand_env(v, env, where) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand_env(v, env, where) for v in node]
    if isinstance(node, str):

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(f"{where} refers to ${{{name}}}, but the environment variable {name} is not set")
            return env[name]

        return _ENV_REF.sub(substitute, node)
    return node
