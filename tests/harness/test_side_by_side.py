"""``--jobs N``: trajectory groups run side by side in worker processes, with the records of one
process at a time (each worker on one torch thread here, as the one-process run)."""

import pytest

import bomf.harness.run as H
from bomf.harness.executors import LocalExecutor
from bomf.harness.store import ResultStore
from bomf.harness.suite import load_suite

from test_reliability import strip_volatile

SUITE = """
name = "sidebyside"
seeds = [0, 1]
budget = 3
methods = ["bomf", "random_search", "uniform_soup", "best"]
[train]
epochs = 1
batch_size = 16
num_members = 3
lr = 1e-3
eval_batch_size = 32
[method_options.bomf]
num_restarts = 2
raw_samples = 32
[[tasks]]
name = "rt-polarity"
models = ["tiny-bert"]
limits = { train = 64, val = 24, test = 24 }
"""


def test_groups_side_by_side_give_the_records_of_one_process(tmp_path, monkeypatch, one_torch_thread):
    path = tmp_path / "sidebyside.toml"
    path.write_text(SUITE)
    suite = load_suite(str(path))
    stores = {}
    for name, executor in (("one", LocalExecutor()), ("two", LocalExecutor(jobs=2, threads_per_job=1))):
        monkeypatch.setenv("BOMF_CACHE", str(tmp_path / f"cache-{name}"))
        stores[name] = ResultStore(tmp_path / f"runs-{name}")
        report = H.run_suite(suite, executor=executor, store=stores[name], device="cpu", progress=False)
        assert report.computed == 8 and not report.left
    one, two = stores["one"].records("sidebyside"), stores["two"].records("sidebyside")
    assert [r["cell"] for r in one] == [r["cell"] for r in two] and len(one) == 8
    for a, b in zip(one, two):
        assert strip_volatile(a) == strip_volatile(b), a["cell"]
    assert list((tmp_path / "runs-two" / ".claims").rglob("*.claim")) == []


def test_jobs_must_be_positive():
    from bomf.core.errors import BomfError

    with pytest.raises(BomfError, match="--jobs must be at least 1"):
        LocalExecutor(jobs=0)
