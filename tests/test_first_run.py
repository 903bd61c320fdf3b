"""`make demo` on a machine set up (the virtualenv made, .cache/ivy warmed by `make ivy`): the jobs' own lines
and the chatbot's answer, in at most 60 lines, and none of Spark's, Ivy's or the JVM's chatter."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.paths import REPO

pytestmark = pytest.mark.jvm

MAX_LINES = 60
NOISE = ("WARN", "Ivy", ":: resolving", "spark-packages")


def test_make_demo_prints_the_jobs_lines_and_no_spark_noise(tmp_path):
    lake, mart = tmp_path / "lake", f"jdbc:sqlite:{tmp_path / 'mart.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "demo",
            "DT=2026-11-27",
            "ARTISTS=2000",
            f"MART={mart}",
            f"INGEST_ARGS=--source synthetic --artists 2000 --lake {lake}",
            f"SIMILARITY_ARGS=--lake {lake}",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout[-5000:]
    assert "pipeline dt=2026-11-27 done: ingest, similarity" in done.stdout
    assert sum("full log (Spark's too): build/logs/spark.log" in line for line in lines) == 1  # where the full log went
    assert [line for line in lines if any(word in line for word in NOISE)] == []
    done_at = next(i for i, line in enumerate(lines) if "pipeline dt=2026-11-27 done" in line)
    chatbot_at = next((i for i, line in enumerate(lines) if "chatbot_lambda" in line), len(lines))
    assert len(lines) <= MAX_LINES, (
        f"{len(lines)} lines: pipeline {done_at + 1}, mart {chatbot_at - done_at - 1}, "
        f"chatbot {len(lines) - chatbot_at}\n{done.stdout}"
    )
