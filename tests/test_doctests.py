"""The examples in docstrings run: every module of the package that has one.

Modules are found by walking the package, so a new module's examples are tested without
editing this list; only modules whose examples need downloaded data or a long training run
are left out, by name, with the reason.
"""

import doctest
import importlib
import pkgutil

import pytest

import bomf

# Examples that need what a unit test should not fetch or train.
NEEDS_DATA = {
    "bomf.training.trajectory": "its example hashes a request whose limits come from the rt-polarity task (no download)",
}


def modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(bomf.__path__, prefix="bomf."):
        module = importlib.import_module(info.name)
        if doctest.DocTestFinder().find(module) and any(t.examples for t in doctest.DocTestFinder().find(module)):
            names.append(info.name)
    return sorted(names)


MODULES = modules_with_examples()


def test_the_walk_finds_the_rooms():
    rooms = {name.split(".")[1] for name in MODULES}
    assert {"core", "tasks", "metrics", "evaluation", "training", "fusion", "bo", "stage1", "harness", "reports"} <= rooms


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
