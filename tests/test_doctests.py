"""The examples in docstrings run (modules whose examples need no data or training)."""

import doctest
import importlib

import pytest

MODULES = ["bomf.metrics", "bomf.registry", "bomf.atomic", "bomf.data", "bomf.errors", "bomf.fusion.pool",
           "bomf.fusion.objective", "bomf.fusion.search", "bomf.fusion.methods", "bomf.bo.pareto", "bomf.stats",
           "bomf.tables", "bomf.store", "bomf.executors", "bomf.hpo", "bomf.alignment", "bomf.checkpoint",
           "bomf.trajectory", "bomf.stage1", "bomf.tasks.base", "bomf.device", "bomf.hub", "bomf.tasks.glue",
           "bomf.text_metrics", "bomf.generation", "bomf.models.lora", "bomf.models.decoders",
           "bomf.tasks.aclsum_generation", "bomf.tasks.hub_generation", "bomf.tasks.local_files", "bomf.claims"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
