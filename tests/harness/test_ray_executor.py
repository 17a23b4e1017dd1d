"""The Ray executor runs a suite through a local Ray instance and stores the same records."""

import pytest

import bomf.harness.run as H
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


@pytest.fixture
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
    H.run_suite(suite, store=local_store, device="cpu", progress=False)
    strip = lambda r: (r["cell"], r["key"], r["weights"], r["test"]["metrics"], r["val"])  # noqa: E731
    assert sorted(map(strip, ray_store.records("tinyray"))) == sorted(map(strip, local_store.records("tinyray")))
