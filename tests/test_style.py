"""Style is held by tools: ruff's lint (import order included) and its formatter find nothing on the tree.

The settings are pyproject.toml's; `make format` fixes what these tests report. `.ci/run` runs the same
checks (`make lint`) before the suite, so a red here is also a red there.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "args",
    [("check", "--no-cache", "."), ("format", "--no-cache", "--check", ".")],
    ids=["lint", "format"],
)
def test_ruff_finds_nothing_on_the_tree(args):
    result = _ruff(*args)
    assert result.returncode == 0, f"ruff {' '.join(args)}:\n{result.stdout}{result.stderr}"


def test_ruff_reads_the_projects_settings(tmp_path):
    # A file with imports out of order fails the lint: the check above is not passing for want of rules.
    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nimport os\n\nprint(os, sys)\n")
    result = _ruff("check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(bad))
    assert result.returncode == 1 and "I001" in result.stdout
