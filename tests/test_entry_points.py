"""Every program answers ``--version`` with ``<prog> <version>`` and names itself in ``--help`` the way the docs
run it (never ``__main__.py``), started as the docs start it: ``python -m ...`` from the repository, or by path.

Importing a program for ``--help`` must not start a JVM: the programs run with JAVA_HOME pointing nowhere (as
in the fast lane), so one that started Spark would fail here. All of them run at once (most of the time is
Python importing PySpark); each test reads its program's two answers.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata

import pytest

from shared.version import DISTRIBUTION
from tests.support.paths import REPO

# How each program is run (arguments to python, from the repository) -> the name its usage line starts with.
PROGRAMS = {
    # The spark-submit jobs: run by path locally and on EMR; the name stays whichever way they start.
    ("jobs/ingest.py",): "python jobs/ingest.py",
    ("jobs/similarity.py",): "python jobs/similarity.py",
    ("jobs/evaluate.py",): "python jobs/evaluate.py",
    ("jobs/publish_mart.py",): "python jobs/publish_mart.py",
    ("-m", "jobs.ingest"): "python jobs/ingest.py",
    ("-m", "jobs.pipeline"): "python -m jobs.pipeline",
    ("-m", "jobs.aliases"): "python -m jobs.aliases",
    ("-m", "jobs.common.spark"): "python -m jobs.common.spark",
    ("-m", "mart"): "python -m mart",
    ("-m", "chatbot_lambda"): "python -m chatbot_lambda",
    ("-m", "chatbot_lambda.serve"): "python -m chatbot_lambda.serve",
    ("-m", "scripts.emr.deploy"): "python -m scripts.emr.deploy",
    ("-m", "scripts.emr.run"): "python -m scripts.emr.run",
    ("-m", "scripts.emr.package"): "python -m scripts.emr.package",
    ("scripts/lambda/build_zip.py",): "python scripts/lambda/build_zip.py",
    ("-m", "bench.chatbot"): "python -m bench.chatbot",
    ("-m", "bench.ingest"): "python -m bench.ingest",
    ("-m", "bench.job"): "python -m bench.job",
    ("-m", "bench.listening"): "python -m bench.listening",
    ("-m", "bench.mart"): "python -m bench.mart",
    ("-m", "bench.quality"): "python -m bench.quality",
    ("-m", "bench.similarity"): "python -m bench.similarity",
    ("-m", "bench.vectors"): "python -m bench.vectors",
}
FOLDERS = ("jobs", "mart", "chatbot_lambda", "scripts", "bench", "shared")
PARSERS = ("ArgumentParser", "program_parser", "base_parser")


def program_files() -> set[str]:
    """Every file under FOLDERS that runs as a program (a ``__main__`` guard, or is a ``__main__.py``) and
    builds an argument parser, relative to the repository."""
    found = set()
    for folder in FOLDERS:
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            names = {
                node.id if isinstance(node, ast.Name) else node.attr
                for node in ast.walk(ast.parse(text))
                if isinstance(node, (ast.Name, ast.Attribute))
            }
            if (path.name == "__main__.py" or 'if __name__ == "__main__":' in text) and names & set(PARSERS):
                found.add(path.relative_to(REPO).as_posix())
    return found


def file_of(arguments: tuple[str, ...]) -> str:
    if arguments[0] != "-m":
        return arguments[0]
    module = REPO / arguments[1].replace(".", "/")
    return (module / "__main__.py" if module.is_dir() else module.with_suffix(".py")).relative_to(REPO).as_posix()


def run(arguments: tuple[str, ...], option: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["JAVA_HOME"] = "/nonexistent/no-jvm-for-help"
    return subprocess.run(
        [sys.executable, *arguments, option], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def answers() -> dict:
    """(arguments, option) -> the finished process, for every program and both options, run at once."""
    jobs = [(arguments, option) for arguments in PROGRAMS for option in ("--version", "--help")]
    with ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 1))) as pool:
        return dict(zip(jobs, pool.map(lambda job: run(*job), jobs)))


def test_every_program_is_in_the_table():
    assert program_files() == {file_of(arguments) for arguments in PROGRAMS}


@pytest.mark.parametrize("arguments", PROGRAMS, ids=" ".join)
def test_the_program_tells_its_version_and_its_name(answers, arguments):
    prog = PROGRAMS[arguments]
    version = answers[arguments, "--version"]
    assert (version.returncode, version.stderr) == (0, ""), version.stderr
    assert version.stdout == f"{prog} {metadata.version(DISTRIBUTION)}\n"
    helped = answers[arguments, "--help"]
    assert (helped.returncode, helped.stderr) == (0, ""), helped.stderr
    usage = helped.stdout.splitlines()[0]
    assert usage.startswith(f"usage: {prog} ") and "__main__" not in usage, usage
    assert "--version" in helped.stdout
