"""cfn-lint run on a CloudFormation template, as the deployment tests run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

# Checks of the Lambda runtime's end-of-life dates compare them with the day cfn-lint runs on: left out, so
# that no test depends on the date (each template's runtime is pinned by a test of its own).
DATE_CHECKS = ("E2531", "E2533", "W2531")


def cfn_lint(template: Path, timeout: float) -> subprocess.CompletedProcess:
    """``cfn-lint <template>`` without :data:`DATE_CHECKS`, its output captured (cfn-lint 1.x has no
    ``python -m cfnlint``: the console script's entry point is called)."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from cfnlint.runner import main; main()",
            str(template),
            "--ignore-checks",
            *DATE_CHECKS,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
    )
