"""What a plan knows without compute: CPU keys hold the torch thread count the cells run with,
and a stage-1 search's choice is read back from its finished journal (never computed)."""

import json

import pytest
import torch

import bomf.harness.run as H
from bomf.cli import main
from bomf.core.device import compute_identity, torch_threads
from bomf.core.paths import cache_dir
from bomf.harness.store import ResultStore
from bomf.harness.suite import load_suite
from bomf.training import TrainConfig, TrajectoryRequest

SUITE = """
name = "{name}"
seeds = [0]
budget = 3
methods = ["last", "uniform_soup"]
stage1 = ["{stage1}"]
{options}
[train]
epochs = 1
batch_size = 16
num_members = 2
lr = 1e-3
[[tasks]]
name = "rt-polarity"
models = ["tiny-bert"]
limits = {{ train = 48, val = 32, test = 32 }}
"""
GRID = "[stage1_options.grid]\nlrs = [1e-3, 3e-4]\nbatch_sizes = [16]"


class InProcess:
    """An executor that runs jobs here, one after another, with a given thread count."""

    in_process = True

    def __init__(self, threads: int):
        self.threads = threads

    def map(self, fn, jobs):
        for job in jobs:
            yield fn(job)


def test_cpu_keys_hold_the_thread_count():
    request = TrajectoryRequest("rt-polarity", "tiny-bert", seed=0, config=TrainConfig(epochs=1), device="cpu")
    with torch_threads(1):
        one, ident = request.key(), compute_identity("cpu")
    with torch_threads(2):
        two = request.key()
    assert ident["threads"] == 1 and one != two
    with torch_threads(1):
        assert request.key() == one  # the same count, the same key


def test_a_sweep_plans_and_computes_with_its_workers_thread_count(tmp_path):
    path = tmp_path / "threads.toml"
    path.write_text(SUITE.format(name="threads", stage1="default", options=""))
    suite, store = load_suite(str(path)), ResultStore(tmp_path / "results")
    before = torch.get_num_threads()
    workers = 1 if before != 1 else 2  # not this process's count: the plan must use the workers'
    report = H.run_suite(suite, executor=InProcess(workers), store=store, device="cpu", progress=False)
    assert report.computed == 2 and torch.get_num_threads() == before  # restored after the group
    records = store.records("threads")
    assert {r["hardware"]["torch_threads"] for r in records} == {workers}  # computed with the workers' count
    assert H.pending_groups(suite, store, "cpu", threads=workers) == ([], 2)  # planned with it: all stored
    groups, skipped = H.pending_groups(suite, store, "cpu", threads=workers + 1)
    assert skipped == 0 and sum(map(len, groups)) == 2  # another count is another computation
    said: list[str] = []
    H.pending_groups(suite, store, "cpu", log=said.append, threads=workers + 1)
    assert len(said) == 1 and "2 stored record(s) were made by another computation" in said[0]
    assert f"made with {workers} torch threads, planned with {workers + 1}" in said[0]
    again = H.run_suite(suite, executor=InProcess(workers), store=store, device="cpu", progress=False)
    assert again.computed == 0 and again.skipped == 2


def test_a_run_is_promoted_as_it_was_computed_whatever_the_thread_count(tmp_path, monkeypatch, capsys):
    path = tmp_path / "promoted.toml"
    path.write_text(SUITE.format(name="promoted", stage1="default", options=""))
    store = ResultStore(tmp_path / "results")
    workers = 1 if torch.get_num_threads() != 1 else 2  # as --jobs 2 or Ray: not this process's count
    H.run_suite(load_suite(str(path)), executor=InProcess(workers), store=store, device="cpu", progress=False)
    monkeypatch.setenv("BOMF_RESULTS", str(store.root))
    monkeypatch.setenv("BOMF_REFERENCE", str(tmp_path / "reference"))
    assert main(["promote", str(path)]) == 0
    assert "promoted 2 records" in capsys.readouterr().out


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage1-sweep")
    path = root / "grid.toml"
    path.write_text(SUITE.format(name="grid", stage1="grid", options=GRID))
    store = ResultStore(root / "results")
    report = H.run_suite(load_suite(str(path)), store=store, device="cpu", progress=False)
    assert report.computed == 2
    return root, path, store




def test_a_stage1_suite_is_planned_from_its_journal_without_training(grid_sweep, monkeypatch):
    root, path, store = grid_sweep
    suite = load_suite(str(path))
    monkeypatch.setattr("bomf.stage1.search.train_trajectory", lambda *a, **k: pytest.fail("a stage-1 trial trained"))
    assert H.pending_groups(suite, store, "cpu") == ([], 2)  # both cells known as stored
    again = H.run_suite(suite, store=store, device="cpu", progress=False)
    assert again.computed == 0 and again.skipped == 2


def _is_this_grid(journal) -> bool:
    header = json.loads(journal.read_text().splitlines()[0])["header"]
    return (header["strategy"] == "grid" and [p["lr"] for p in header["grid"]] == [1e-3, 3e-4]
            and header["base"]["limits"]["train"] == 48)


def test_a_stage1_suite_is_promoted_and_refused_without_its_journal(grid_sweep, monkeypatch, capsys, tmp_path):
    root, path, store = grid_sweep
    monkeypatch.setenv("BOMF_RESULTS", str(store.root))
    monkeypatch.setenv("BOMF_REFERENCE", str(tmp_path / "reference"))
    assert main(["promote", str(path)]) == 0
    assert "promoted 2 records" in capsys.readouterr().out
    assert len(ResultStore(tmp_path / "reference").records("grid")) == 2
    # Without the search's journal the stored records cannot be checked: refused, saying why.
    mine = [j for j in cache_dir("stage1").glob("*/trials.jsonl") if _is_this_grid(j)]
    assert len(mine) == 1, "the grid search's journal is in the cache"
    saved = {j: j.read_bytes() for j in mine}
    try:
        for j in mine:  # an unfinished search: one of its two trials
            lines = saved[j].splitlines(keepends=True)
            j.write_bytes(b"".join(lines[:2]))
        monkeypatch.setenv("BOMF_REFERENCE", str(tmp_path / "reference2"))
        assert main(["promote", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "incomplete: 2 of 2 cells" in err[0] and "has 1 of 2 trials" in err[0]
        assert not (tmp_path / "reference2").exists()
        for j in mine:
            j.unlink()
        assert main(["promote", str(path)]) == 2
        assert "is not in the cache" in capsys.readouterr().err
        assert not any(j.exists() for j in mine)  # planning wrote no journal
    finally:
        for j, raw in saved.items():
            j.write_bytes(raw)


def test_a_stage1_strategy_that_is_not_journaled_is_never_run_by_a_plan(tmp_path, monkeypatch):
    from bomf.stage1.strategies import STAGE1, Stage1Result, Stage1Strategy

    calls = []

    def fixed_lr(task, model, seed, base, limits):
        calls.append(seed)  # a plugin's strategy may train: a plan must never call it
        return Stage1Result(config=base)

    monkeypatch.setitem(STAGE1._items, "fixed_lr", Stage1Strategy("fixed_lr", "test", fixed_lr, {}))
    path = tmp_path / "plugin.toml"
    path.write_text(SUITE.format(name="plugin", stage1="fixed_lr", options=""))
    suite, store = load_suite(str(path)), ResultStore(tmp_path / "results")
    assert H.run_suite(suite, store=store, device="cpu", progress=False).computed == 2 and calls == [0]
    said: list[str] = []
    groups, skipped = H.pending_groups(suite, store, "cpu", log=said.append)
    assert calls == [0] and skipped == 0 and sum(map(len, groups)) == 2
    assert len(said) == 1 and "stage 1 'fixed_lr' is not journaled" in said[0]
