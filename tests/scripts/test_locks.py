"""Reproducible installs: the EMR bootstrap and the Lambda zip install from lock files with hashes."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from importlib.metadata import distribution
from pathlib import Path

import pytest
from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

from scripts.emr import package
from tests.support.paths import REPO

EMR_LOCK = REPO / "scripts" / "emr" / "requirements.lock"
LAMBDA_LOCK = REPO / "scripts" / "lambda" / "requirements.lock"
BOOTSTRAP = REPO / "scripts" / "emr" / "bootstrap.sh"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)==([A-Za-z0-9_.+!-]+)$")


def _load_build_zip():
    """scripts/lambda/build_zip.py as a module ("lambda" is a keyword: no import statement reaches it)."""
    spec = importlib.util.spec_from_file_location("build_zip", REPO / "scripts" / "lambda" / "build_zip.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lock_entries(path: Path) -> dict[str, tuple[str, list[str]]]:
    """``{name: (version, hashes)}`` of a pip-compile lock; fails on any requirement not ``==``-pinned."""
    entries, lines = {}, []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if line:
            lines.append(line)
    text = " ".join(line.rstrip("\\").strip() for line in lines)
    for requirement in re.split(r"\s+(?=[A-Za-z0-9][^\s=]*==)", text.strip()):
        first, *options = requirement.split()
        match = PIN.match(first)
        assert match, f"{path.name}: {first!r} is not pinned with =="
        hashes = [o.removeprefix("--hash=") for o in options if o.startswith("--hash=sha256:")]
        assert len(hashes) == len(options), f"{path.name}: {first} has options other than --hash: {options}"
        entries[match.group(1).lower().replace("_", "-")] = (match.group(2), hashes)
    return entries


def pins(requirements) -> dict[str, str]:
    found = {}
    for requirement in requirements:
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^;\s]+)", requirement.strip())
        assert match, f"{requirement!r} is not pinned with =="
        found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


@pytest.mark.parametrize("lock", [EMR_LOCK, LAMBDA_LOCK], ids=["emr", "lambda"])
def test_every_locked_requirement_is_pinned_with_a_hash(lock):
    entries = lock_entries(lock)
    assert entries
    for name, (version, hashes) in entries.items():
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), (name, version)
    # No option that would let pip look elsewhere than the index pip is configured with.
    assert not re.search(r"^\s*-(-find-links|f |-index-url|i |-extra-index-url|e )", lock.read_text(), re.M)


def test_the_emr_lock_pins_what_setup_py_and_the_bootstrap_pin():
    locked = {name: version for name, (version, _) in lock_entries(EMR_LOCK).items()}
    required = pins(r.split(";")[0] for r in distribution("related-artists").requires or [] if "extra ==" not in r)
    for name, version in required.items():
        if name not in ("pyspark", "delta-spark"):  # EMR brings Spark and Delta
            assert locked.get(name) == version, name
    assert "pyspark" not in locked and "delta-spark" not in locked
    listed = re.search(r"^PACKAGES=\((.*)\)$", BOOTSTRAP.read_text(encoding="utf-8"), re.M).group(1)
    for name, version in pins(re.findall(r'"([^"]+)"', listed)).items():
        assert locked.get(name) == version, name


def test_the_lambda_lock_pins_what_the_chatbot_requirements_pin():
    locked = {name: version for name, (version, _) in lock_entries(LAMBDA_LOCK).items()}
    lines = (REPO / "chatbot_lambda" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    wanted = pins(line for line in lines if line.strip() and not line.lstrip().startswith("#"))
    assert wanted and all(locked.get(name) == version for name, version in wanted.items()), (wanted, locked)


def test_the_bootstrap_installs_the_shipped_lock_with_hashes_only(tmp_path):
    text = BOOTSTRAP.read_text(encoding="utf-8")
    install = next(line for line in text.splitlines() if "-m pip install" in line)
    assert "--require-hashes" in install and "--no-deps" in install and '-r "$LOCK"' in install
    assert package.LOCK == EMR_LOCK  # shipped next to bootstrap.sh, and named as its argument
    template = load_cfn_yaml(str(REPO / "scripts" / "emr" / "pipeline.yaml"))
    action = template["Resources"]["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"]
    assert '"Args": ["s3://${ArtifactBucket}/code/${CodeVersion}/requirements.lock"]' in action
    # A lock that does not pin what the jobs import is refused before pip runs.
    partial = tmp_path / "requirements.lock"
    partial.write_text("numpy==2.2.6 \\\n    --hash=sha256:" + "0" * 64 + "\n", encoding="utf-8")
    done = subprocess.run(["bash", str(BOOTSTRAP), str(partial)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "does not pin scipy==1.15.3" in done.stderr
    done = subprocess.run(["bash", str(BOOTSTRAP)], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "usage: bootstrap.sh" in done.stderr


def test_the_lambda_zip_installs_the_lock_with_hashes_only(tmp_path, monkeypatch):
    build_zip, commands = _load_build_zip(), []

    def pip(command, **_):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(build_zip.subprocess, "run", pip)
    build_zip.install_dependencies(build_zip.REQUIREMENTS, tmp_path)
    [command] = commands
    assert build_zip.REQUIREMENTS == LAMBDA_LOCK
    assert "--require-hashes" in command and "--no-deps" in command
    assert command[command.index("-r") + 1] == str(LAMBDA_LOCK)
