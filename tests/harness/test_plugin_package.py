"""A throw-away plugin package, installed into a temp folder, adds a task, a model and a method
through entry points; `bomf run`, `bomf tables` and `bomf list` know them, with no edit of bomf."""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

PYPROJECT = '''
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "bomf-demo-plugin"
version = "0.0.1"

[project.entry-points."bomf.tasks"]
demo-words = "bomf_demo_plugin.task"

[project.entry-points."bomf.models"]
demo-bert = "bomf_demo_plugin.model"

[project.entry-points."bomf.methods"]
demo_late = "bomf_demo_plugin.method"

[tool.setuptools]
packages = ["bomf_demo_plugin"]
'''

TASK = '''
"""A synthetic sentiment task: two positive or two negative words, some noise."""
import random

from bomf.tasks import Split, Splits, Task, register_task

GOOD, BAD = ["good", "great", "fine", "superb", "lovely"], ["bad", "awful", "poor", "dull", "ugly"]


def _split(n, seed):
    rng = random.Random(seed)
    labels = [i % 2 for i in range(n)]
    texts = [" ".join(rng.choice(GOOD if y else BAD) for _ in range(2)) + " movie" for y in labels]
    return Split(texts, None, labels)


def load():
    return Splits(train=_split(64, 0), val=_split(32, 1), test=_split(32, 2))


register_task(Task(name="demo-words", kind="classification", num_labels=2, metrics=("accuracy", "f1"),
                   primary_metric="accuracy", load=load, source="offline", description="plugin task", max_length=16))
'''

MODEL = '''
from bomf.models import ModelSpec, register_model

register_model(ModelSpec(name="demo-bert", source="random", description="plugin model: random 1-layer BERT",
                         config={"model_type": "bert", "vocab_size": 30522, "hidden_size": 16, "num_hidden_layers": 1,
                                 "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 64},
                         tokenizer_from="minilm", params="0.5M"))
'''

METHOD = '''
import math

from bomf.fusion import FusionResult, register_method


@register_method("demo_late", search=False)
def demo_late(objective, pool, budget, seed, *, fraction=0.5):
    """Plugin method: uniform average of the last half of the members."""
    keep = max(1, math.ceil(fraction * pool.size))
    weights = [0.0] * (pool.size - keep) + [1.0 / keep] * keep
    return FusionResult(weights=weights, evaluation=objective(weights, label="demo late"))
'''

SUITE = '''
name = "demo"
seeds = [0]
methods = ["demo_late", "uniform_soup"]
[train]
epochs = 1
batch_size = 16
num_members = 2
lr = 1e-3
eval_batch_size = 32
[[tasks]]
name = "demo-words"
models = ["demo-bert"]
'''


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin")
    src = root / "src"
    (src / "bomf_demo_plugin").mkdir(parents=True)
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "bomf_demo_plugin" / "__init__.py").write_text("")
    for name, text in (("task", TASK), ("model", MODEL), ("method", METHOD)):
        (src / "bomf_demo_plugin" / f"{name}.py").write_text(textwrap.dedent(text))
    site = root / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(site), str(src)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (root / "demo.toml").write_text(SUITE)
    env = {**os.environ, "PYTHONPATH": str(site), "BOMF_RESULTS": str(root / "results"), "OMP_NUM_THREADS": "1"}
    return root, env


def bomf(root, env, *args):
    return subprocess.run([sys.executable, "-m", "bomf.cli", *args], capture_output=True, text=True, cwd=root, env=env)


def test_an_installed_plugin_runs_a_suite_with_its_task_model_and_method(installed):
    root, env = installed
    proc = bomf(root, env, "run", "demo.toml", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert "computed 2 cells" in proc.stdout
    # stderr is a pipe, not a terminal: no bars, one plain line per cell with its seconds and test metric.
    cells = [line for line in proc.stderr.splitlines() if re.match(r"bomf: \[\d/2\] demo-words/demo-bert/", line)]
    assert len(cells) == 2 and all(re.search(r": \d+\.\d s, test accuracy \d\.\d{4}$", c) for c in cells), proc.stderr
    assert "\r" not in proc.stderr
    records = sorted((root / "results" / "demo" / "runs").rglob("*.json"))
    assert [p.parent.name for p in records] == ["demo_late", "uniform_soup"]
    late = json.loads(records[0].read_text())
    assert late["task"] == "demo-words" and late["model"] == "demo-bert" and late["weights"] == [0.0, 1.0]


def test_tables_and_list_in_a_fresh_process_know_the_plugin(installed):
    root, env = installed
    if not (root / "results" / "demo" / "runs").exists():
        pytest.skip("needs the suite run above")
    proc = bomf(root, env, "tables", "demo.toml")
    assert proc.returncode == 0, proc.stderr
    table = (root / "results" / "demo" / "tables" / "demo-words__demo-bert__default.md").read_text()
    assert "demo_late" in table and "uniform_soup" in table
    for what, name in (("tasks", "demo-words"), ("models", "demo-bert"), ("methods", "demo_late")):
        proc = bomf(root, env, "list", what)
        assert proc.returncode == 0 and name in proc.stdout, proc.stderr
    without = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    proc = bomf(root, without, "list", "tasks")
    assert proc.returncode == 0 and "demo-words" not in proc.stdout  # only where the package is installed
