"""Where the tests find the repository, its fixtures and the workspace's shared examples."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
SHARED_EXAMPLES = REPO.parent / "shared" / "examples"  # the workspace's ../shared, not the shared/ package
