"""Imports point down the layers: entry points → jobs/{sources,transform,evaluation,publish} → jobs/common →
mart → shared, and nothing outside tests/ imports tests/ but bench/, which may use tests.support.

The imports are read with ``ast`` (lazy imports inside functions included), so nothing is executed.
"""

from __future__ import annotations

import ast

import pytest

from tests.support.paths import REPO

PROJECT = ("jobs", "mart", "shared", "chatbot_lambda", "scripts", "bench", "tests")
JOB_LAYERS = ("jobs.publish", "jobs.sources", "jobs.transform", "jobs.evaluation")


def imported_modules(path) -> set[str]:
    """Every module a file imports by absolute name; ``from a import b`` counts as ``a`` and ``a.b``."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def within(module: str, packages) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def violations(folders, forbidden, allowed=()) -> list[str]:
    """``file: module`` for each import from ``folders`` of a module under ``forbidden`` and not under ``allowed``."""
    found = []
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*.py")):
            found += [
                f"{path.relative_to(REPO)}: {module}"
                for module in sorted(imported_modules(path))
                if within(module, forbidden) and not within(module, allowed)
            ]
    return found


# The job entry points (python jobs/<name>.py, python -m jobs.<name>): they share code through modules
# (jobs/settings.py, jobs/similarity_steps.py, jobs/publish/...), never by importing one another.
ENTRY_POINTS = tuple(
    f"jobs.{name}" for name in ("ingest", "similarity", "evaluate", "publish_mart", "pipeline", "aliases")
)
# The one exception: the pipeline runs ingest's and then similarity's main(), in one process.
PIPELINE_STEPS = ("jobs.ingest", "jobs.similarity")


def entry_point_imports(allowed: dict[str, tuple[str, ...]]) -> list[str]:
    """``file: module`` for each entry point importing another entry point that ``allowed`` does not list for it."""
    found = []
    for entry in ENTRY_POINTS:
        path = REPO / (entry.replace(".", "/") + ".py")
        others = tuple(other for other in ENTRY_POINTS if other != entry)
        found += [
            f"{path.relative_to(REPO)}: {module}"
            for module in sorted(imported_modules(path))
            if within(module, others) and not within(module, allowed.get(entry, ()))
        ]
    return found


def test_no_entry_point_imports_another_but_the_pipeline_its_steps():
    assert entry_point_imports({"jobs.pipeline": PIPELINE_STEPS}) == []


def test_the_entry_point_rule_sees_an_import_between_entry_points():
    """The rule is not vacuous: the pipeline's own imports are found when not allowed."""
    assert entry_point_imports({}) == ["jobs/pipeline.py: jobs.ingest", "jobs/pipeline.py: jobs.similarity"]


RULES = {
    "jobs/common imports no job layer above it": (["jobs/common"], JOB_LAYERS, ()),
    "mart imports neither the jobs nor the chatbot": (
        ["mart"],
        ("jobs", "chatbot_lambda", "scripts", "bench", "tests"),
        (),
    ),
    "shared imports nothing of the project": (["shared"], tuple(p for p in PROJECT if p != "shared"), ()),
    "sources and transform never import publish": (["jobs/sources", "jobs/transform"], ("jobs.publish",), ()),
    "the jobs, mart, shared, chatbot and scripts never import tests": (
        ["jobs", "mart", "shared", "chatbot_lambda", "scripts"],
        ("tests",),
        (),
    ),
    "bench imports only tests.support of the tests": (["bench"], ("tests",), ("tests.support",)),
}


@pytest.mark.parametrize("rule", RULES)
def test_imports_point_down_the_layers(rule):
    folders, forbidden, allowed = RULES[rule]
    assert violations(folders, forbidden, allowed) == []
