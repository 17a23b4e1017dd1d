"""The Ray executor runs a suite through a local Ray instance and stores the same records."""

import pytest

import bomf.harness.run as H
from bomf.core import plugins
from bomf.core.device import torch_threads
from bomf.harness.executors import RayExecutor
from bomf.harness.store import ResultStore
from bomf.harness.suite import load_suite

ray = pytest.importorskip("ray")

SUITE = """
name = "tinyray"
seeds = [0, 1]
budget = 3
methods = ["uniform_soup", "random_search", "last"]
[train]
epochs = 1
batch_size = 16
num_members = 3
lr = 1e-3
[[tasks]]
name = "rt-polarity"
models = ["tiny-bert"]
limits = { train = 48, val = 32, test = 32 }
"""


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, object_store_memory=200 * 2**20, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_executor_runs_a_suite_like_the_local_one(tmp_path, local_ray, monkeypatch):
    path = tmp_path / "tinyray.toml"
    path.write_text(SUITE)
    suite = load_suite(str(path))
    ray_store = ResultStore(tmp_path / "ray")
    report = H.run_suite(suite, executor=RayExecutor(), store=ray_store, device="cpu", progress=False)
    assert report.computed == 6
    # The local run gets its own cache, so it recomputes everything rather than reusing Ray's work.
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path / "local-cache"))
    local_store = ResultStore(tmp_path / "local")
    with torch_threads(1):  # as the Ray tasks compute (one CPU each): the thread count is in the keys
        H.run_suite(suite, store=local_store, device="cpu", progress=False)
    assert {r["hardware"]["torch_threads"] for r in ray_store.records("tinyray")} == {1}
    strip = lambda r: (r["cell"], r["key"], r["weights"], r["test"]["metrics"], r["val"])  # noqa: E731
    assert sorted(map(strip, ray_store.records("tinyray"))) == sorted(map(strip, local_store.records("tinyray")))


PLUGIN = """
from bomf.tasks import Split, Splits, Task, register_task
from bomf.fusion import FusionResult, register_method

def _split(n, shift):
    words = ["good", "bad", "fine", "awful"]
    return Split([words[(i + shift) % 4] + " film" for i in range(n)], None, [1 - (i + shift) % 2 for i in range(n)])

register_task(Task(name="ray-plugin-words", kind="classification", num_labels=2, metrics=("accuracy",),
                   primary_metric="accuracy", load=lambda: Splits(_split(48, 0), _split(16, 1), _split(16, 2)),
                   source="offline", description="a task only the suite's plugin file registers"))

@register_method("ray_plugin_first", search=False)
def first(objective, pool, budget, seed):
    \"\"\"The first member (a method only the plugin file registers).\"\"\"
    w = [1.0] + [0.0] * (pool.size - 1)
    return FusionResult(weights=w, evaluation=objective(w))
"""


def test_ray_workers_load_the_suites_plugin_file(tmp_path, local_ray, monkeypatch):
    """Workers are other processes: they know the plugin's task and method only because the job carries it."""
    monkeypatch.setattr(plugins, "_LOADED", dict(plugins._LOADED))  # later tests' jobs must not carry it
    (tmp_path / "ray_plugin.py").write_text(PLUGIN)
    (tmp_path / "plug.toml").write_text(SUITE.replace('name = "tinyray"', 'name = "plug"\nplugins = ["ray_plugin.py"]')
                                        .replace('"rt-polarity"', '"ray-plugin-words"')
                                        .replace('["uniform_soup", "random_search", "last"]', '["ray_plugin_first"]'))
    store = ResultStore(tmp_path / "ray")
    report = H.run_suite(load_suite(str(tmp_path / "plug.toml")), executor=RayExecutor(), store=store, device="cpu",
                         progress=False)
    records = store.records("plug")
    assert report.computed == 2 and len(records) == 2
    assert {r["task"] for r in records} == {"ray-plugin-words"} and all(r["weights"][0] == 1.0 for r in records)
