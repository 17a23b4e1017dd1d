"""The harness on a tiny real suite: store, skipping, incremental methods, tables, plots."""

import json
import re

import pytest

import bomf.harness.run as H
from bomf.cli import main
from bomf.harness.store import REQUIRED, ResultStore
from bomf.harness.suite import load_suite

SUITE = """
name = "tiny"
seeds = [0, 1]
budget = 4
methods = [{methods}]
[train]
epochs = 1
batch_size = 16
num_members = 3
lr = 1e-3
[method_options.bomf]
num_restarts = 2
raw_samples = 32
[[tasks]]
name = "rt-polarity"
models = ["tiny-bert"]
limits = {{ train = 64, val = 48, test = 64 }}
"""
FIRST = '"bomf", "uniform_soup", "greedy_soup", "last", "best", "swa"'


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    path = root / "tiny.toml"
    path.write_text(SUITE.format(methods=FIRST))
    store = ResultStore(root)
    report = H.run_suite(load_suite(str(path)), store=store, device="cpu", progress=False)
    return root, path, store, report


def test_every_cell_has_a_complete_record(sweep):
    root, path, store, report = sweep
    assert report.computed == 12 and report.skipped == 0 and report.from_cache == 0
    records = store.records("tiny")
    assert len(records) == 12
    for rec in records:
        for field in ("request", "key", "git_commit", "versions", "hardware", "seed", "weights", "test", "val", "costs",
                      "history", "stage1", "label", "cell"):
            assert field in rec, field
        assert rec["suite"] == "tiny" and len(rec["test"]["predictions"]) == 64
    labels = {(r["label"], r["seed"]) for r in records}
    assert len(labels) == 12


def test_a_second_run_computes_nothing(sweep, monkeypatch):
    root, path, store, _ = sweep
    monkeypatch.setattr(H, "run_fusion", lambda *a, **k: pytest.fail("recomputed a stored cell"))
    monkeypatch.setattr(H, "prepare_context", lambda *a, **k: pytest.fail("loaded a trajectory"))
    report = H.run_suite(load_suite(str(path)), store=store, device="cpu", progress=False)
    assert report.computed == 0 and report.skipped == 12


def test_adding_a_method_computes_only_its_cells(sweep, monkeypatch):
    root, path, store, _ = sweep
    path2 = root / "tiny2.toml"
    path2.write_text(SUITE.format(methods=FIRST + ', "random_search"'))
    ran = []
    real = H.run_fusion
    monkeypatch.setattr(H, "run_fusion", lambda req, *a, **k: ran.append(req.method) or real(req, *a, **k))
    report = H.run_suite(load_suite(str(path2)), store=store, device="cpu", progress=False)
    assert report.computed == 2 and report.from_cache == 0 and ran == ["random_search", "random_search"]


def test_a_damaged_record_is_named_and_recomputed(sweep):
    root, path, store, _ = sweep
    relpath = "tiny/rt-polarity/tiny-bert/default/greedy_soup/seed1.json"
    before = store.read(relpath)
    store.path(relpath).write_text("{}")
    lines = []
    report = H.run_suite(load_suite(str(path)), store=store, device="cpu", progress=False, log=lines.append)
    assert lines == [f"record {store.path(relpath)} is incomplete (no key and {len(REQUIRED) - 1} more); it counts as not stored (a run recomputes it)"]
    # Its fusion is still in the fusion cache: the record is rebuilt from it, and the report says so.
    assert report.computed == 1 and report.from_cache == 1 and store.read(relpath)["test"] == before["test"]


def test_tables_and_plots_regenerate_identically_from_records(sweep, monkeypatch, capsys):
    root, path, store, _ = sweep
    monkeypatch.setenv("BOMF_RESULTS", str(root))
    assert main(["tables", str(path)]) == 0
    table_dir = root / "tiny" / "tables"
    first = {p.name: p.read_bytes() for p in table_dir.iterdir()}
    assert {"summary.md", "summary.csv", "summary.tex", "README.md",
            "rt-polarity__tiny-bert__default.md"} <= set(first)
    md = first["rt-polarity__tiny-bert__default.md"].decode()
    for label in ("bomf", "uniform_soup", "greedy_soup", "swa"):
        assert label in md
    assert "±" in md and "reference" in md
    # A random tiny model may predict one class on val in every seed: the table then says so
    # instead of giving verdicts; otherwise it gives verdicts.
    if all(r["trajectory"].get("degenerate") for r in store.records("tiny")):
        assert "every seed is degenerate" in md and "should be read as a finding" in md
    else:
        assert "noise" in md or "better" in md or "worse" in md
    plots = list((root / "tiny" / "plots").glob("*.png"))
    assert any(p.name.startswith("landscape__") for p in plots) and any(p.name.startswith("search__") for p in plots)
    assert main(["run", str(path), "--tables-only"]) == 0
    assert {p.name: p.read_bytes() for p in table_dir.iterdir()} == first


def test_a_record_traces_to_its_config_and_commit(sweep):
    _, _, store, _ = sweep
    rec = store.records("tiny")[0]
    assert rec["trajectory"]["request"]["config"]["num_members"] == 3
    assert rec["request"]["trajectory"] == rec["trajectory"]["key"]
    assert json.dumps(rec)  # plain JSON all the way down


def test_promote_then_compare_your_run_with_the_reference(sweep, monkeypatch, capsys, tmp_path):
    root, path, store, _ = sweep
    reference = tmp_path / "reference"
    monkeypatch.setenv("BOMF_RESULTS", str(root))
    monkeypatch.setenv("BOMF_REFERENCE", str(reference))
    assert main(["promote", str(path)]) == 0
    n = len(store.records("tiny"))
    assert "promoted" in capsys.readouterr().out and len(ResultStore(reference).records("tiny")) == n
    assert (reference / "tiny" / "tables" / "summary.md").exists() and list((reference / "tiny" / "plots").glob("*.png"))
    # The same records: every method reproduced, identically.
    assert main(["tables", str(path)]) == 0
    out = capsys.readouterr().out
    labels = {r["label"] for r in store.records("tiny")}
    assert f"rt-polarity / tiny-bert / default: {len(labels)} of {len(labels)} methods reproduced within noise, 0 differ." in out
    assert "(identical)" in out and (root / "tiny" / "tables" / "reproduce.md").exists()
    # A run whose test predictions moved a lot: that method differs, the others still reproduce.
    other = tmp_path / "other"
    for rec in store.records("tiny"):
        if rec["label"] == "last":
            rec["test"]["predictions"] = [1 - p for p in rec["test"]["labels"]]
        ResultStore(other).write(rec["cell"], rec)
    monkeypatch.setenv("BOMF_RESULTS", str(other))
    assert main(["tables", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\| last +\| 2 .*\| differs", out) and f"{len(labels) - 1} of {len(labels)} methods reproduced" in out
    # --reference regenerates the reference's own tables, and compares nothing.
    assert main(["tables", str(path), "--reference"]) == 0
    assert "reproduce" not in capsys.readouterr().out


def test_an_incomplete_run_is_not_promoted(sweep, monkeypatch, capsys, tmp_path):
    root, path, store, _ = sweep
    bigger = root / "bigger.toml"
    bigger.write_text(SUITE.format(methods=FIRST + ', "learned_soup"'))
    monkeypatch.setenv("BOMF_RESULTS", str(root))
    monkeypatch.setenv("BOMF_REFERENCE", str(tmp_path / "reference"))
    assert main(["promote", str(bigger)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "incomplete: 2 of 14 cells are not stored" in err[0]
    assert not (tmp_path / "reference").exists()


def test_quiet_keeps_the_summary_and_dry_run_estimates_from_records(sweep, monkeypatch, capsys, tmp_path):
    root, path, store, _ = sweep
    monkeypatch.setenv("BOMF_RESULTS", str(root))
    monkeypatch.setenv("BOMF_REFERENCE", str(tmp_path / "no-reference"))
    assert main(["run", str(path), "--quiet", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert "computed 0 cells" in captured.out and "mean rank" in captured.out and captured.err == ""
    # A fresh results folder and cache: every cell pending; the old run's records are the reference.
    monkeypatch.setenv("BOMF_RESULTS", str(tmp_path / "fresh"))
    monkeypatch.setenv("BOMF_REFERENCE", str(root))
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path / "fresh-cache"))
    assert main(["run", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "rt-polarity/tiny-bert/default/bomf/seed0" in out and "exact match, + " in out
    assert re.search(r"estimated time: .+ for 12 of 12 cells", out)
    assert not (tmp_path / "fresh" / "tiny" / "runs").exists()
