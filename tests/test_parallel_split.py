"""Every entry of the suite's split for parallel workers (tests/support/parallel.py) names a test that
exists, so a renamed test cannot silently lose its ``serial`` marker and run beside others.

Names are read with ``ast``, nothing is imported or run.
"""

from __future__ import annotations

import ast

import pytest

from tests.support.parallel import SERIAL, SLOW_FIRST, is_serial, module_of
from tests.support.paths import REPO


def module_tests(path) -> set[str]:
    """The names of the module-level test functions of the file at ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test")
    }


@pytest.mark.parametrize("entry", SERIAL + SLOW_FIRST)
def test_each_entry_names_an_existing_module_or_test(entry):
    path = REPO / module_of(entry)
    assert path.is_file(), f"{entry}: no such test module"
    if "::" in entry:
        assert entry.split("::", 1)[1] in module_tests(path), f"{entry}: no such test in {path.name}"


def test_a_serial_entry_covers_its_parameters_and_nothing_else():
    assert is_serial("tests/mart/test_serving.py::test_x[mysql]")
    assert is_serial(
        "tests/jobs/test_publish_mart.py::test_cli_refuses_publish_and_rollback_while_another_holds_the_lock[sqlite]"
    )
    assert not is_serial("tests/jobs/test_publish_mart.py::test_cli_refuses_publish_and_rollback_while_another_holds")
    assert not is_serial("tests/jobs/test_publish_mart.py::test_something_else")
