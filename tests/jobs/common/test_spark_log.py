"""A quiet local start (jobs/common/spark.py, conf/log4j2.properties, conf/ivysettings.xml): where Spark's log,
Ivy's report and the jobs' details go, and the progress lines of long Spark stages. No JVM is started."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import types
import xml.etree.ElementTree as ET

from jobs.common import spark as spark_module
from jobs.common.config import load_config, section
from jobs.common.progress import ConsoleDetails, StageProgress
from tests.support.paths import REPO


def stage(name="save at NativeMethodAccessorImpl.java:0", done=3, total=16):
    return types.SimpleNamespace(name=name, numCompletedTasks=done, numTasks=total)


def test_a_stage_gets_a_progress_line_once_it_ran_long_then_one_each_period(caplog):
    watcher = StageProgress(sc=None, log=logging.getLogger("jobs.spark"), after=10)
    info = {7: stage()}.get
    with caplog.at_level(logging.INFO):
        assert watcher.check([7], info, now=100.0) == []
        assert watcher.check([7], info, now=109.0) == []
        assert watcher.check([7], info, now=110.0) == ["Spark stage 7 (save): 3 of 16 tasks done after 10 s"]
        assert watcher.check([7], info, now=115.0) == []
        assert len(watcher.check([7], info, now=120.5)) == 1
        assert watcher.check([], info, now=121.0) == []  # done: forgotten
        assert watcher.check([7], info, now=125.0) == []  # (a stage id seen again starts over)
    assert caplog.messages == [
        "Spark stage 7 (save): 3 of 16 tasks done after 10 s",
        "Spark stage 7 (save): 3 of 16 tasks done after 20 s",
    ]


def record(name, level=logging.INFO, msg="%s rows", module="lake"):
    made = logging.LogRecord(name, level, f"{module}.py", 1, msg, ("x",), None)
    made.module = module
    return made


def test_details_leave_the_console_only_once_the_full_log_is_in_a_file(monkeypatch):
    console = ConsoleDetails()
    monkeypatch.setattr(ConsoleDetails, "held", {})
    monkeypatch.setattr(ConsoleDetails, "log_file", None)
    assert console.filter(record("jobs.common.lake"))  # no log file (EMR): all on the console
    monkeypatch.setattr(ConsoleDetails, "log_file", "build/logs/spark.log")
    assert not console.filter(record("jobs.common.lake"))
    assert not console.filter(record("jobs.transform.neighbours"))
    assert not console.filter(record("jobs.ingest", msg="%s: started", module="timing"))
    assert console.filter(record("jobs.ingest", msg="%s: %.1f s", module="timing"))
    assert console.filter(record("jobs.common.lake", level=logging.WARNING))
    assert console.filter(record("jobs.ingest"))
    assert console.filter(record("jobs.publish.mart"))


def test_java_options_add_up_and_quote_what_holds_a_space():
    merged = spark_module._merged("spark.driver.extraJavaOptions", "-Da=1", "-XX:+UseSerialGC")
    assert merged == "-Da=1 -XX:+UseSerialGC"
    assert spark_module._merged("spark.jars", "a.jar", "b.jar") == "a.jar,b.jar"
    assert spark_module._merged("spark.driver.memory", "4g", "2g") == "2g"
    assert spark_module._java_option("-Dx=/a b/c") == '"-Dx=/a b/c"'
    options = spark_module._log4j_options({"log_level": "warn"}, REPO / "build" / "logs" / "spark.log")
    assert f"-Dlog4j2.configurationFile={(REPO / 'conf' / 'log4j2.properties').as_uri()}" in options
    assert "-Drelated_artists.console_level=WARN" in options


def test_ivy_resolves_from_maven_central_only():
    settings = ET.parse(REPO / "conf" / "ivysettings.xml").getroot()
    resolvers = list(settings.find("resolvers"))
    assert [(r.tag, r.get("root")) for r in resolvers] == [("ibiblio", "https://repo1.maven.org/maven2/")]
    assert settings.find("settings").get("defaultResolver") == resolvers[0].get("name")
    assert "spark-packages" not in (REPO / "conf" / "ivysettings.xml").read_text()
    local = section(load_config(), "spark")
    assert (local["ivy_settings"], local["log4j_config"]) == ("conf/ivysettings.xml", "conf/log4j2.properties")


def test_the_needless_warnings_stay_in_the_log_file_and_the_others_reach_the_console():
    text = (REPO / "conf" / "log4j2.properties").read_text()
    props = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line and not line.startswith("#"))
    quiet = {props[k]: k.split(".")[1] for k in props if k.startswith("logger.") and k.endswith(".name")}
    for name in (
        "org.apache.hadoop.util.NativeCodeLoader",
        "org.apache.spark.sql.catalyst.util.SparkStringUtils",
        "org.apache.spark.sql.execution.datasources.jdbc.JdbcUtils",
    ):
        key = quiet[name]
        assert props[f"logger.{key}.additivity"] == "false"
        assert props[f"logger.{key}.appenderRef.console.level"] == "error"  # its errors still show
    assert not any("window" in name.lower() for name in quiet)  # WindowExec's warning is not hidden
    assert props["appender.console.filter.threshold.level"] == "${sys:related_artists.console_level:-WARN}"


def test_a_listed_resolution_is_reused_and_a_broken_one_resolved_again(tmp_path, monkeypatch):
    jar = tmp_path / "ivy" / "jars" / "a_b-1.jar"
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"")
    cfg = {"ivy_cache": str(tmp_path / "ivy"), "ivy_settings": "conf/ivysettings.xml"}
    launched = []

    def fake_gateway(conf, popen_kwargs):
        launched.append(dict(conf.getAll()))
        popen_kwargs["stdout"].write(b":: resolution report ::\n")
        jvm = types.SimpleNamespace(
            java=types.SimpleNamespace(
                lang=types.SimpleNamespace(System=types.SimpleNamespace(getProperty=lambda key: jar.as_uri()))
            )
        )
        proc = types.SimpleNamespace(stdin=open(tmp_path / "stdin", "w"), wait=lambda timeout: 0)
        return types.SimpleNamespace(jvm=jvm, proc=proc, shutdown=lambda: None)

    monkeypatch.setattr("pyspark.java_gateway.launch_gateway", fake_gateway)
    log_path = tmp_path / "spark.log"
    assert spark_module.resolved_jars(cfg, ["a:b:1"], log_path) == [jar.as_uri()]
    assert launched[0]["spark.jars.ivySettings"] == str(REPO / "conf" / "ivysettings.xml")
    assert ":: resolution report ::" in log_path.read_text()  # Ivy's report in the log, not the console
    assert spark_module.resolved_jars(cfg, ["a:b:1"], log_path) == [jar.as_uri()]
    assert len(launched) == 1  # listed: no JVM the second time
    jar.unlink()
    spark_module.resolved_jars(cfg, ["a:b:1"], log_path)  # ... until a jar is gone
    assert len(launched) == 2


def test_a_stage_s_started_line_is_held_back_and_shown_only_once_it_runs_long(monkeypatch, caplog):
    monkeypatch.setattr(ConsoleDetails, "log_file", "build/logs/spark.log")
    monkeypatch.setattr(ConsoleDetails, "held", {})
    console = ConsoleDetails()
    started = record("jobs.similarity", msg="%s: started", module="timing")
    started.args = ("publish to the mart",)
    assert not console.filter(started)
    assert (
        ConsoleDetails.still_running(10, now=ConsoleDetails.held[("jobs.similarity", "publish to the mart")] + 5) == []
    )
    since = ConsoleDetails.held[("jobs.similarity", "publish to the mart")]
    with caplog.at_level(logging.INFO):
        assert ConsoleDetails.still_running(10, now=since + 12) == ["publish to the mart: running for 12 s"]
        assert ConsoleDetails.still_running(10, now=since + 30) == []  # once
    assert caplog.records[-1].name == "jobs.similarity"
    short = record("jobs.ingest", msg="%s: started", module="timing")
    short.args = ("write artists",)
    console.filter(short)
    done = record("jobs.ingest", msg="%s: %.1f s", module="timing")
    done.args = ("write artists", 1.5)
    assert console.filter(done) and ConsoleDetails.held == {}  # done before it ran long: no line
    assert console.filter(record("jobs.publish.mart", msg="wrote %s", module="mart"))
    detail = record("jobs.publish.mart", msg="wrote %s", module="mart")
    detail.detail = True
    assert not console.filter(detail)


def _start_in_a_child(tmp_path, overrides: list[str], env: dict) -> subprocess.CompletedProcess:
    """``start_spark`` on the local profile (no Maven packages) in a process of its own, run from ``tmp_path``."""
    code = (
        "import sys\n"
        "from jobs.common.config import load_config\n"
        "from jobs.common.errors import ConfigError\n"
        "from jobs.common.spark import start_spark\n"
        f"config = load_config({str(REPO / 'conf' / 'local.toml')!r}, {['spark.packages=[]', *overrides]!r})\n"
        "try:\n"
        "    start_spark(config, 'test')\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(2)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_driver_jvm_that_does_not_start_is_a_config_error_saying_why(tmp_path):
    log_file = tmp_path / "logs" / "spark.log"
    done = _start_in_a_child(tmp_path, [f'spark.log_file="{log_file}"'], {"JAVA_HOME": "/nonexistent/java"})
    assert done.returncode == 2, done.stderr
    assert "the Spark driver JVM did not start (JAVA_HOME=/nonexistent/java)" in done.stdout
    assert "/nonexistent/java" in done.stdout.split("\n", 1)[1]  # the log's tail: what the launcher said
    assert log_file.is_file()


def test_an_unwritable_log_folder_sends_sparks_log_to_the_console_with_one_warning(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root writes anywhere: a file where the folder should be instead
            locked.chmod(0o700)
            (locked / "logs").write_text("not a folder")
        log_file = locked / "logs" / "spark.log"
        assert spark_module.driver_log_path({"log_file": str(log_file)}) is None
        # The start goes on without the file (and so fails here only for the JVM it cannot find).
        done = _start_in_a_child(tmp_path, [f'spark.log_file="{log_file}"'], {"JAVA_HOME": "/nonexistent/java"})
        assert "cannot write Spark's log to" in done.stderr and "goes to the console instead" in done.stderr
        assert "did not start" not in done.stdout  # not the log file's error: Spark's own, on the console
    finally:
        locked.chmod(0o700)
