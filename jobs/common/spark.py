"""Starting a SparkSession from the ``[spark]`` section of a config.

Two ways to launch a job, same code:

* ``python jobs/similarity.py ...``: PySpark starts the JVM itself, so the
  config's ``master``, ``packages`` (Maven coordinates, resolved into the
  ``ivy_cache`` folder) and every ``[spark.conf]`` entry apply, driver memory
  included.
* ``spark-submit ... jobs/similarity.py ...`` (EMR, or by hand): the JVM is
  already running, so master, packages and driver memory come from
  spark-submit; the ``[spark.conf]`` entries that can still change are applied.

``python -m jobs.common.spark [--config FILE]`` resolves every package of the
config (``s3a_packages`` included) into ``ivy_cache`` and exits, so that later
starts, several at once included (parallel test workers), only read the cache.

A local start keeps the console for the job: Spark's log and what its JVM prints
go to ``log_file`` (``log4j_config``: Spark's warnings that need action, and its
errors, still on the console), Ivy resolves (``ivy_settings``: the cache and Maven
Central) in a JVM of its own with its report in that file, and long Spark stages
get progress lines (``progress_seconds``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import SparkSession

from jobs.common.config import load_config, section
from jobs.common.errors import ConfigError
from jobs.common.progress import StageProgress, log_to_file
from shared.version import program_parser

log = logging.getLogger(__name__)

DELTA_CHECK_CLASS = "io.delta.tables.DeltaTable"


def launched_by_spark_submit() -> bool:
    """True when this Python driver was started by spark-submit (the JVM exists already)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def start_spark(config: Mapping, app_name: str) -> SparkSession:
    """Return the active SparkSession, or start one configured by ``config["spark"]``.

    On a local start Spark's own log goes to ``log_file`` (conf/log4j2.properties: its WARNs and ERRORs
    also on the console, but for the warnings that need no action there) and the Maven packages come
    from the ivy cache without Ivy's report on the console (:func:`resolved_jars`).
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    spark_cfg = section(config, "spark")
    settings: dict[str, str] = {"spark.app.name": app_name}
    log_path: Path | None = None
    if not launched_by_spark_submit():
        if spark_cfg.get("master"):
            settings["spark.master"] = str(spark_cfg["master"])
        log_path = driver_log_path(spark_cfg)
        packages = maven_packages(spark_cfg, s3a=_lake_scheme(config) == "s3a")
        if packages and spark_cfg.get("ivy_cache"):
            settings["spark.jars"] = ",".join(resolved_jars(spark_cfg, packages, log_path))
        elif packages:  # no cache of our own: Spark's Ivy resolves at start-up, its report on the console
            settings["spark.jars.packages"] = ",".join(packages)
        # Python workers run the driver's interpreter (and so its installed packages) unless told otherwise.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        if str(spark_cfg.get("master", "")).startswith("local"):
            # One machine: bind to the loopback address (else Spark warns that the hostname resolves to it).
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    for key, value in {**s3a_conf(config), **(spark_cfg.get("conf") or {})}.items():
        settings[key] = _merged(key, settings.get(key), str(value))
    if log_path is not None:
        settings["spark.driver.extraJavaOptions"] = _merged(
            "spark.driver.extraJavaOptions",
            _log4j_options(spark_cfg, log_path),
            settings.get("spark.driver.extraJavaOptions"),
        )
    launched = log_path is not None and _launch_jvm(settings, log_path)
    if launched:
        log_to_file(str(log_path))  # the job's own log beside Spark's, the details included
    builder = SparkSession.builder
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if not launched:  # spark-submit's JVM (or one this process started before): its log4j settings apply
        spark.sparkContext.setLogLevel(spark_cfg.get("log_level", "WARN"))
    _require_delta(spark, spark_cfg)
    log.info(
        "Spark %s started: master=%s, default parallelism %d%s",
        spark.version,
        spark.sparkContext.master,
        spark.sparkContext.defaultParallelism,
        f"; full log (Spark's too): {_shown(log_path)}" if launched else "",
    )
    StageProgress.start(
        spark.sparkContext, logging.getLogger("jobs.spark"), after=float(spark_cfg.get("progress_seconds", 10.0))
    )
    return spark


def maven_packages(spark_cfg: Mapping, s3a: bool) -> list[str]:
    """The Maven coordinates a local start resolves: ``packages``, then ``s3a_packages`` for an s3a lake."""
    packages = list(spark_cfg.get("packages") or [])
    if s3a:
        packages += [p for p in spark_cfg.get("s3a_packages") or [] if p not in packages]
    return packages


def warm_package_cache(config: Mapping) -> list[str]:
    """Resolve every package of ``config["spark"]`` (s3a's included) into its ``ivy_cache``, for a start
    with and one without an s3a lake (:func:`resolved_jars`); returns the coordinates. No SparkSession is
    started."""
    if SparkSession.getActiveSession() is not None:
        raise RuntimeError("a SparkSession is running in this process: warm the cache from a process of its own")
    spark_cfg = section(config, "spark")
    log_path = driver_log_path(spark_cfg) or _writable_log(Path(DEFAULT_LOG_FILE).absolute())
    for s3a in (False, True):
        packages = maven_packages(spark_cfg, s3a=s3a)
        if packages and spark_cfg.get("ivy_cache"):
            resolved_jars(spark_cfg, packages, log_path, fresh=True)
    return maven_packages(spark_cfg, s3a=True)


# -- Spark's log and the Maven packages of a local start ----------------------------------------------------
# Spark's own output never reaches the console unless it matters: the driver JVM's stderr (its log, and what
# the JVM itself prints, such as "Using incubator modules") goes to the log file; log4j2 (conf/log4j2.properties)
# writes WARN and up to its stdout as well, which is this process's stderr. Ivy (which prints its resolution
# report to the JVM's console) runs in a JVM of its own whose output all goes to the log file, once per set of
# packages: the jars it resolved are listed in the ivy cache and later starts pass them as spark.jars.

DEFAULT_LOG_FILE = "build/logs/spark.log"
DEFAULT_LOG4J_CONFIG = "conf/log4j2.properties"
DEFAULT_IVY_SETTINGS = "conf/ivysettings.xml"
LOG_ROTATE_BYTES = 50 * 1024 * 1024  # a longer log file is moved to <log>.1 at the next start
REPO = Path(__file__).resolve().parents[2]


def _config_file(value: str) -> Path:
    """A file the config names: relative to the working directory, else to the repository (conf/...)."""
    path = Path(value)
    if not path.is_absolute() and not path.exists() and (REPO / path).exists():
        path = REPO / path
    if not path.is_file():
        raise ConfigError(f"{value}: no such file (from the [spark] section of the config)")
    return path.resolve()


def driver_log_path(spark_cfg: Mapping) -> Path | None:
    """Where a local start sends Spark's log (``log_file``), or None when ``log4j_config`` is "" (Spark's
    own log4j settings, its log on the console)."""
    if not spark_cfg.get("log4j_config", DEFAULT_LOG4J_CONFIG):
        return None
    path = Path(spark_cfg.get("log_file") or DEFAULT_LOG_FILE).absolute()
    try:
        _ensure_writable(path)
        if path.stat().st_size > LOG_ROTATE_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    except OSError as exc:  # a read-only checkout, another user's build/, a full disk: log to the console
        log.warning(
            "cannot write Spark's log to %s (%s); it goes to the console instead (set spark.log_file)",
            path,
            exc.strerror or exc,
        )
        return None
    return path


def _log4j_options(spark_cfg: Mapping, log_path: Path) -> str:
    config_file = _config_file(str(spark_cfg.get("log4j_config", DEFAULT_LOG4J_CONFIG)))
    level = str(spark_cfg.get("log_level", "WARN")).upper()
    return " ".join(
        _java_option(option)
        for option in (
            f"-Dlog4j2.configurationFile={config_file.as_uri()}",
            f"-Drelated_artists.console_level={level}",
            f"-Drelated_artists.log_file={log_path}",
        )
    )


def _java_option(option: str) -> str:
    # spark-submit splits spark.driver.extraJavaOptions like a shell: quote what holds a space or a quote.
    if any(c in option for c in " \"'\\"):
        return '"' + option.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return option


def _merged(key: str, first: str | None, second: str | None) -> str:
    """Two values of one setting: Java options and jar lists add up, anything else takes the second."""
    if not first or not second:
        return first or second or ""
    if key == "spark.driver.extraJavaOptions":
        return f"{first} {second}"
    if key == "spark.jars":
        return f"{first},{second}"
    return second


def _shown(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class _Conf:
    """What pyspark's launch_gateway reads of a SparkConf (a real one would use a JVM already running)."""

    def __init__(self, settings: Mapping[str, str]):
        self.settings = dict(settings)

    def getAll(self) -> list[tuple[str, str]]:
        return list(self.settings.items())


def _launch_jvm(settings: Mapping[str, str], log_path: Path) -> bool:
    """Start the driver JVM with its stderr in ``log_path`` and its stdout on this process's stderr, and a
    SparkContext on it; False (nothing started) when this process has a JVM already (a session stopped
    before: a new one runs on that JVM, with its settings)."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:
        return False
    from pyspark.errors import PySparkRuntimeError

    console = _stderr_fd()
    with open(log_path, "ab") as log_file:
        start = log_file.seek(0, os.SEEK_END)
        try:
            gateway = launch_gateway(_Conf(settings), popen_kwargs={"stderr": log_file, "stdout": console})
        except PySparkRuntimeError:  # Java missing or too old, a bad JAVA_HOME, a bad driver option, ...
            log_file.flush()
            raise ConfigError(
                f"the Spark driver JVM did not start (JAVA_HOME={os.environ.get('JAVA_HOME', 'unset')}); "
                f"the end of {_shown(log_path)}:\n" + _tail(log_path, start)
            ) from None
    SparkContext(conf=SparkConf().setAll(settings.items()), gateway=gateway)
    return True


def _stderr_fd():
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a stream without a file (io.UnsupportedOperation too)
        return None


def _jars_list(ivy_dir: Path, packages: list[str], settings_file: Path | None) -> Path:
    key = "\n".join([*sorted(packages), settings_file.read_text() if settings_file else ""])
    return ivy_dir / "resolved" / (hashlib.sha256(key.encode()).hexdigest()[:16] + ".jars")


def resolved_jars(spark_cfg: Mapping, packages: list[str], log_path: Path | None, fresh: bool = False) -> list[str]:
    """The jars of ``packages`` and their dependencies in ``ivy_cache`` (file URIs), resolved by Ivy
    (``ivy_settings``: the cache and Maven Central) in a JVM of its own the first time, or with ``fresh``;
    its output, resolution report included, goes to ``log_path``. Later starts read the list."""
    ivy_dir = Path(spark_cfg["ivy_cache"]).resolve()
    ivy_settings = spark_cfg.get("ivy_settings", DEFAULT_IVY_SETTINGS)  # "": Spark's default Ivy settings
    settings_file = _config_file(str(ivy_settings)) if ivy_settings else None
    listing = _jars_list(ivy_dir, packages, settings_file)
    if not fresh and listing.is_file():
        jars = listing.read_text().split()
        if jars and all(Path(urllib.parse.urlparse(jar).path).is_file() for jar in jars):
            return jars
    log_path = log_path or _writable_log(Path(DEFAULT_LOG_FILE).absolute())
    conf = {"spark.master": "local[1]", "spark.jars.packages": ",".join(packages), "spark.jars.ivy": str(ivy_dir)}
    if settings_file:
        conf["spark.jars.ivySettings"] = str(settings_file)
    log.info(
        "resolving %d Maven packages into %s (the resolution report: %s)",
        len(packages),
        _shown(ivy_dir),
        _shown(log_path),
    )
    from pyspark.errors import PySparkRuntimeError
    from pyspark.java_gateway import launch_gateway

    with open(log_path, "ab") as log_file:
        log_file.write(f"\n== {time.strftime('%Y-%m-%d %H:%M:%S')} resolving {','.join(packages)}\n".encode())
        log_file.flush()
        start = log_file.tell()
        try:
            gateway = launch_gateway(_Conf(conf), popen_kwargs={"stdout": log_file, "stderr": log_file})
        except PySparkRuntimeError:
            raise ConfigError(
                f"Ivy could not resolve {', '.join(packages)} (ivy cache {ivy_dir}, settings "
                f"{settings_file or 'Spark default'}):\n" + _tail(log_path, start)
            ) from None
    try:
        jars = str(gateway.jvm.java.lang.System.getProperty("spark.jars") or "").split(",")
    finally:
        gateway.shutdown()
        gateway.proc.stdin.close()
        gateway.proc.wait(timeout=60)
    jars = [jar for jar in jars if jar]
    listing.parent.mkdir(parents=True, exist_ok=True)
    part = listing.with_name(f"{listing.name}.{os.getpid()}.part")
    part.write_text("\n".join(jars) + "\n")
    os.replace(part, listing)  # readers at once (parallel test workers) see the whole list or none
    return jars


def _ensure_writable(path: Path) -> None:
    """Make ``path``'s folder and the file (kept as it is when there); OSError when either cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab"):
        pass


def _writable_log(path: Path) -> Path:
    """``path``, or a file in the temporary folder when its folder cannot be written."""
    try:
        _ensure_writable(path)
        return path
    except OSError:
        return Path(tempfile.gettempdir()) / f"related-artists-{os.getuid()}-{path.name}"


def _tail(path: Path, start: int, lines: int = 25) -> str:
    with open(path, "rb") as handle:
        handle.seek(start)
        text = handle.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = program_parser(
        "python -m jobs.common.spark",
        description="Resolve the config's Maven packages (s3a's included) into its ivy_cache, then exit.",
    )
    parser.add_argument("--config", help="a TOML config (default: conf/local.toml)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    packages = warm_package_cache(load_config(args.config))
    log.info("%d Maven packages resolved into the ivy cache: %s", len(packages), ", ".join(packages))
    return 0


def _lake_scheme(config: Mapping) -> str:
    path = str((config.get("lake") or {}).get("path", ""))
    return path.split("://", 1)[0] if "://" in path else ""


def s3a_conf(config: Mapping) -> dict[str, str]:
    """Hadoop S3A settings from ``[lake]`` for an ``s3a://`` lake: endpoint, path-style access.

    Credentials come from S3A's default chain (environment variables, instance role), never from
    the config. An ``http://`` endpoint (a local S3 such as moto's server) turns TLS off.
    """
    if _lake_scheme(config) != "s3a":
        return {}
    lake = config.get("lake") or {}
    conf = {"spark.hadoop.fs.s3a.path.style.access": str(bool(lake.get("s3_path_style", False))).lower()}
    endpoint = str(lake.get("s3_endpoint", "") or "")
    if endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = endpoint
        conf["spark.hadoop.fs.s3a.endpoint.region"] = str(
            lake.get("s3_region", "") or os.environ.get("AWS_REGION", "us-east-1")
        )
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(not endpoint.startswith("http://")).lower()
    return conf


def _require_delta(spark: SparkSession, spark_cfg: Mapping) -> None:
    try:
        spark.sparkContext._jvm.java.lang.Class.forName(
            DELTA_CHECK_CLASS, False, spark.sparkContext._jvm.Thread.currentThread().getContextClassLoader()
        )
    except Exception:
        packages = ",".join(spark_cfg.get("packages") or ["io.delta:delta-spark_2.13:<version>"])
        raise ConfigError(
            "Delta Lake is not on the Spark classpath. Run the job with `python jobs/<job>.py` "
            f"(it resolves {packages} itself), or pass `--packages {packages}` to spark-submit; "
            "on EMR enable the delta-defaults classification (delta.enabled=true)."
        ) from None


if __name__ == "__main__":
    sys.exit(main())
