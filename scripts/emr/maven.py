"""JVM jars from Maven Central, downloaded once into the git-ignored cache and checked against their SHA-1.

The EMR steps take the MySQL JDBC driver from the code prefix on S3 (``--jars s3://...``), never from
Maven at run time: packaging resolves it here. The versions are the ones ``conf/local.toml`` resolves for
local runs (``[spark] packages``), so both places use the same driver.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from jobs.common.config import load_config

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "maven"
CENTRAL = "https://repo1.maven.org/maven2"
COORDINATE = re.compile(r"^([\w.-]+):([\w.-]+):([\w.-]+)$")


class JarError(RuntimeError):
    """A jar that could not be resolved; the message says which and why."""


def local_package(prefix: str) -> str:
    """The Maven coordinates in conf/local.toml's ``[spark] packages`` that start with ``prefix``."""
    packages = load_config().get("spark", {}).get("packages", [])
    found = [p for p in packages if p.startswith(prefix)]
    if len(found) != 1:
        raise JarError(f"conf/local.toml's [spark] packages should name {prefix}<version> once, found {found}")
    return found[0]


def mysql_driver() -> str:
    return local_package("com.mysql:mysql-connector-j:")


def jar_name(coordinate: str) -> str:
    """``group:artifact:version`` -> ``artifact-version.jar``."""
    _, artifact, version = _split(coordinate)
    return f"{artifact}-{version}.jar"


def resolve(coordinate: str, cache: Path = CACHE, repository: str = CENTRAL, timeout: float = 60) -> Path:
    """The jar of ``coordinate`` in ``cache``, downloaded from ``repository`` the first time."""
    group, artifact, version = _split(coordinate)
    relative = f"{group.replace('.', '/')}/{artifact}/{version}/{artifact}-{version}.jar"
    path = cache / relative
    if path.is_file():
        return path
    url = f"{repository.rstrip('/')}/{relative}"
    data = _get(url, timeout)
    expected = _get(url + ".sha1", timeout).decode("ascii", "replace").split()[0].strip().lower()
    actual = hashlib.sha1(data).hexdigest()
    if actual != expected:
        raise JarError(f"{url}: SHA-1 {actual} does not match the published {expected}; nothing was kept")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed: a reader never sees half a jar, and two resolvers at once both succeed.
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as part:
        part.write(data)
    os.replace(part.name, path)
    return path


def _split(coordinate: str) -> tuple[str, str, str]:
    match = COORDINATE.match(coordinate)
    if not match:
        raise JarError(f"{coordinate!r} is not a Maven coordinate group:artifact:version")
    return match.group(1), match.group(2), match.group(3)


def _get(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.read()
    except (urllib.error.URLError, OSError) as exc:
        raise JarError(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from None
