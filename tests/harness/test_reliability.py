"""Reliability: two harness processes on one results folder, claims, unwritable folders, determinism.

The slow tests run a small real suite (both offline tasks, a tiny BERT, BO and baseline methods:
the smoke suite's shape at a fraction of its cost) in real subprocesses:

- twice, one process each, into separate results folders and caches (determinism);
- then with two processes at once on one results folder and one cache (claims).
"""

from __future__ import annotations

import doctest
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bomf.harness.claims as claims_module
import bomf.harness.run as H
from bomf.harness.claims import is_stale, read_owner, remove_stale, this_process, try_claim, wait_claim
from bomf.core.atomic import write_json
from bomf.cli import main
from bomf.core.paths import UnwritableError, check_writable
from bomf.core.errors import BomfError
from bomf.harness.store import REQUIRED, ResultStore, example_record
from bomf.harness.suite import load_suite

REPO = Path(__file__).resolve().parents[2]

# The smoke suite's shape (both tasks, BO and baseline methods, per-method options) on a tiny model.
SUITE = """
name = "twin"
seeds = [0]
budget = 3
methods = ["bomf", "random_search", "greedy_soup", "learned_soup", "uniform_soup", "swa", "last", "best"]
[train]
epochs = 1
batch_size = 16
num_members = 3
lr = 1e-3
eval_batch_size = 32
[method_options.bomf]
num_restarts = 2
raw_samples = 32
[method_options.learned_soup]
max_steps = 3
[[tasks]]
name = "rt-polarity"
models = ["tiny-bert"]
limits = { train = 64, val = 24, test = 24 }
[[tasks]]
name = "aclsum-qnli"
models = ["tiny-bert"]
limits = { train = 64, val = 24, test = 24 }
"""
N_CELLS = 16  # 2 tasks x 1 seed x 8 methods, in 2 groups (one trajectory per task)

# What two runs of the same suite may differ in: measurements of the run, not its results.
# Wall-clock seconds depend on machine load; peak memory on what the process did before.
# Everything else (weights, metrics, losses, predictions, every evaluation, keys, provenance
# of this one machine) must be identical.
VOLATILE_KEYS = frozenset({
    "seconds",              # every evaluation's and stage 1's wall clock
    "eval_seconds", "method_seconds", "overhead_seconds", "test_seconds",  # a fusion's costs
    "bo_seconds",           # time spent fitting surrogates
    "train_seconds", "member_eval_seconds",  # a trajectory's costs
    "peak_rss_mb",          # resident memory high-water mark of the process
})


def strip_volatile(obj):
    """``obj`` without the ``VOLATILE_KEYS``, at any depth."""
    if isinstance(obj, dict):
        return {k: strip_volatile(v) for k, v in obj.items() if k not in VOLATILE_KEYS}
    if isinstance(obj, list):
        return [strip_volatile(v) for v in obj]
    return obj


def _env(root: Path, name: str) -> dict:
    # One torch thread everywhere: two processes on 2 cores do not fight, and every run uses
    # the same thread count (CPU reductions may round differently with another).
    return {**os.environ, "BOMF_CACHE": str(root / f"cache-{name}"),
            "BOMF_RESULTS": str(root / f"results-{name}"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _records(root: Path, name: str) -> list[dict]:
    return ResultStore(root / f"results-{name}").records("twin")


def _journal_lines(cache: Path) -> dict[str, int]:
    """Evaluations journaled per fusion key (a fusion computed twice at once would have more)."""
    return {p.parent.name: len(p.read_text().splitlines()) for p in (cache / "fusion").glob("*/evaluations.jsonl")}


@pytest.fixture(scope="module")
def twin_runs(tmp_path_factory):
    """The suite run twice, one process each, into separate results folders and caches (in parallel)."""
    root = tmp_path_factory.mktemp("twin")
    (root / "twin.toml").write_text(SUITE)
    cmd = [sys.executable, "-m", "bomf.cli", "run", str(root / "twin.toml"), "--quiet", "--device", "cpu"]
    procs = {name: subprocess.Popen(cmd, env=_env(root, name), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("first", "second")}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{name}: {err[-2000:]}"
    return root


def test_same_seed_gives_identical_records_in_separate_folders_and_caches(twin_runs):
    first, second = _records(twin_runs, "first"), _records(twin_runs, "second")
    assert len(first) == len(second) == N_CELLS
    for a, b in zip(first, second):
        assert a["cell"] == b["cell"]
        assert strip_volatile(a) == strip_volatile(b), a["cell"]
    # Really two computations: each cache holds its own trajectories and journals.
    for name in ("first", "second"):
        cache = twin_runs / f"cache-{name}"
        assert len(list((cache / "trajectories").iterdir())) == 2
    assert _journal_lines(twin_runs / "cache-first") == _journal_lines(twin_runs / "cache-second")
    # ...and the comparison is not vacuous: searches evaluated fused models, and the stripped
    # records still hold the results.
    bomf = [r for r in first if r["method"] == "bomf"]
    assert all(r["costs"]["computed_evaluations"] == 3 for r in bomf)
    assert all(len(strip_volatile(r)["test"]["predictions"]) == 24 for r in first)


# Started in two processes; the slow imports come before the start line, so both start claiming
# at the same moment. One goes through run_all.py, the other through `bomf run`.
RUNNER = """
import sys, time, pathlib
import bomf.cli, bomf.harness, bomf.fusion, run_all
bomf.fusion.get_method("bomf")  # the method registry's imports, too
ready, go, entry, args = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4:]
ready.touch()
while not go.exists():
    time.sleep(0.01)
sys.exit(run_all.main(args) if entry == "run_all" else bomf.cli.main(args))
"""


def test_two_processes_on_one_results_folder_compute_every_cell_once(twin_runs):
    root = twin_runs
    suite = str(root / "twin.toml")
    env = _env(root, "shared")
    entries = {"a": ("run_all", ["--suite", suite, "--quiet", "--device", "cpu"]),
               "b": ("bomf", ["run", suite, "--quiet", "--device", "cpu"])}
    procs = {}
    for name, (entry, args) in entries.items():
        procs[name] = subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(root / f"ready-{name}"), str(root / "go"), entry, *args],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not all((root / f"ready-{n}").exists() for n in procs):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs.values()), "a runner died"
        time.sleep(0.05)
    (root / "go").touch()
    outputs = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{name}: {err[-2000:]}"
        outputs[name] = (out, err)

    # Each process computed some cells, and together every cell exactly once; each accounts for
    # every cell (computed, stored before it started, stored meanwhile by the other, or left to it).
    summary = re.compile(r"computed (\d+) cells, skipped (\d+)(?:, (\d+) stored meanwhile by another process)?"
                         r"(?:, left (\d+) to another process)?, in")
    counts = {n: [int(v or 0) for v in summary.search(out).groups()] for n, (out, _) in outputs.items()}
    assert sum(c[0] for c in counts.values()) == N_CELLS and min(c[0] for c in counts.values()) > 0, counts
    assert all(sum(c) == N_CELLS for c in counts.values()), counts
    skips = "".join(err for _, err in outputs.values())
    assert "leaving it to that process" in skips
    # Every record exists once, is valid JSON, and equals the single-process run's.
    files = sorted((root / "results-shared" / "twin" / "runs").rglob("*.json"))
    assert len(files) == N_CELLS and all(json.loads(p.read_text()) for p in files)
    shared, single = _records(root, "shared"), _records(root, "first")
    for a, b in zip(single, shared, strict=True):
        assert a["cell"] == b["cell"]
        assert strip_volatile(a) == strip_volatile(b), a["cell"]
    # No fusion was evaluated twice (journals as long as the single run's), no trajectory trained
    # twice at once (no half-built folder), and every claim was released.
    cache = root / "cache-shared"
    assert _journal_lines(cache) == _journal_lines(root / "cache-first")
    assert sorted(p.name for p in (cache / "trajectories").iterdir() if p.name.startswith(".tmp")) == []
    assert list((root / "results-shared" / ".claims").rglob("*.claim")) == []
    assert list((cache / "claims").glob("*.claim")) == []


# -- claims ----------------------------------------------------------------------------------

HOLDER = """
import sys, time
from bomf.harness.claims import try_claim
claim = try_claim(sys.argv[1])
print("held" if claim else "refused", flush=True)
time.sleep(float(sys.argv[2]))
if claim:
    claim.release()
"""


def _holder(path: Path, seconds: float) -> subprocess.Popen:
    """Another process that claims ``path`` and holds it for ``seconds``."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_claim_docstring_example():
    result = doctest.testmod(claims_module)
    assert result.attempted > 0 and result.failed == 0


def test_a_live_claim_blocks_and_a_killed_holders_claim_is_taken_over(tmp_path):
    path = tmp_path / "unit.claim"
    holder = _holder(path, 60)
    try:
        assert read_owner(path)["pid"] == holder.pid
        assert try_claim(path) is None and not is_stale(path)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert is_stale(path)
    mine = try_claim(path)
    assert mine is not None and mine.took_over["pid"] == holder.pid
    assert read_owner(path)["pid"] == os.getpid()
    mine.release()
    assert not path.exists()


def test_a_killed_but_unreaped_holder_counts_as_dead(tmp_path):
    path = tmp_path / "unit.claim"
    holder = _holder(path, 60)
    holder.send_signal(signal.SIGKILL)
    for _ in range(1000):  # a zombie until we reap it: the pid still exists
        if Path(f"/proc/{holder.pid}/stat").read_text().split(") ")[1].startswith("Z"):
            break
        time.sleep(0.01)
    try:
        assert try_claim(path) is not None
    finally:
        holder.wait()


def _write_owner(path: Path, **fields) -> None:
    path.write_text(json.dumps({**this_process(), "token": "x", "time": time.time(), **fields}))


def test_stale_by_timeout_reused_pid_or_reboot(tmp_path):
    path = tmp_path / "unit.claim"
    _write_owner(path, host="another-host", pid=1)  # cannot be checked from here: the heartbeat decides
    assert not is_stale(path, timeout=60)
    old = time.time() - 120
    os.utime(path, (old, old))
    assert is_stale(path, timeout=60)
    _write_owner(path, started=-1)  # our pid, but another process's start time: the pid was reused
    assert is_stale(path, timeout=60)
    _write_owner(path, boot="another-boot")  # made before a reboot
    assert is_stale(path, timeout=60)
    _write_owner(path)  # really us
    assert not is_stale(path, timeout=60)
    path.write_text("")  # a writer killed between create and write, long ago
    os.utime(path, (old, old))
    assert is_stale(path, timeout=60)


def test_the_heartbeat_keeps_a_long_claim_fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("BOMF_CLAIM_TIMEOUT", "1")
    claim = try_claim(tmp_path / "unit.claim")
    time.sleep(2.5)  # longer than the timeout; the heartbeat refreshes every 0.2 s
    assert not is_stale(claim.path)
    claim.release()


RACER = """
import sys, time, pathlib
from bomf.harness.claims import try_claim
ready, go, paths = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
ready.touch()
while not go.exists():
    time.sleep(0.001)
held = [try_claim(p) for p in paths]
print(" ".join("won" if c else "lost" for c in held), flush=True)
time.sleep(3.0)  # hold them while the others try
"""


def test_of_many_processes_taking_over_a_stale_claim_exactly_one_wins(tmp_path):
    go = tmp_path / "go"
    paths = [tmp_path / f"unit{k}.claim" for k in range(8)]  # eight races, to make a lost race likely to show
    for path in paths:
        _write_owner(path, host=socket.gethostname(), pid=2**22 + 1)  # above the default pid_max: dead
        assert is_stale(path)
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(tmp_path / f"ready{i}"), str(go), *map(str, paths)],
                               stdout=subprocess.PIPE, text=True) for i in range(6)]
    while not all((tmp_path / f"ready{i}").exists() for i in range(6)):
        assert all(p.poll() is None for p in racers), "a racer died"
        time.sleep(0.01)
    go.touch()
    results = [p.communicate(timeout=60)[0].split() for p in racers]
    winners = [sum(r[k] == "won" for r in results) for k in range(len(paths))]
    assert winners == [1] * len(paths)


def test_wait_claim_waits_for_the_holder_and_says_so_once(tmp_path):
    path = tmp_path / "unit.claim"
    holder = _holder(path, 1.5)
    told = []
    claim = wait_claim(path, poll_s=0.1, on_wait=told.append)
    holder.wait()
    assert [o["pid"] for o in told] == [holder.pid]
    assert read_owner(path)["token"] == claim.owner["token"]
    claim.release()


ONE_GROUP = SUITE.split("[[tasks]]")[0] + """[[tasks]]
name = "rt-polarity"
models = ["tiny-bert"]
limits = { train = 64, val = 24, test = 24 }
"""


def _no_compute(monkeypatch):
    monkeypatch.setattr(H, "run_fusion", lambda *a, **k: pytest.fail("computed a cell"))
    monkeypatch.setattr(H, "prepare_context", lambda *a, **k: pytest.fail("loaded a trajectory"))


def test_a_group_held_by_a_live_process_is_left_to_it_and_reported(tmp_path, monkeypatch):
    (tmp_path / "one.toml").write_text(ONE_GROUP)
    suite = load_suite(str(tmp_path / "one.toml"))
    store = ResultStore(tmp_path / "results")
    _no_compute(monkeypatch)
    gid = H.group_id(suite.cells())
    holder = _holder(H.group_claims_folder(store, suite.name) / f"{gid}.claim", 60)
    lines = []
    try:
        report = H.run_suite(suite, store=store, device="cpu", progress=False, log=lines.append)
    finally:
        holder.kill()
        holder.wait()
    n = len(suite.cells())
    assert report.computed == 0 and sorted(report.left) == sorted(c.relpath() for c in suite.cells())
    skips = [line for line in lines if "leaving it to that process" in line]
    assert len(skips) == 1 and skips[0].startswith(f"{gid} ({n} cells) is being computed by pid {holder.pid} ")
    assert len(report.holders) == 1 and report.holders[0].startswith(f"{gid} ({n} cells, pid {holder.pid} ")
    assert lines[-1] == (f"left {n} cells to other processes: {report.holders[0]}; they write those records and, "
                         "when they finish, the tables (or re-run this command then)")


def test_a_dead_processes_group_claim_is_removed_and_the_group_runs(tmp_path, monkeypatch):
    (tmp_path / "one.toml").write_text(ONE_GROUP)
    suite = load_suite(str(tmp_path / "one.toml"))
    store = ResultStore(tmp_path / "results")
    gid = H.group_id(suite.cells())
    path = H.group_claims_folder(store, suite.name) / f"{gid}.claim"
    holder = _holder(path, 60)
    holder.kill()
    holder.wait()
    ran = []
    monkeypatch.setattr(H, "run_group", lambda job, reused=None: ran.append((job.group_id, path.exists())) or [])
    report = H.run_suite(suite, store=store, device="cpu", progress=False, log=lambda line: None)
    assert ran == [(gid, True)] and report.left == []  # claimed (by us) while it ran
    assert remove_stale(path.parent) == [] and not path.exists()  # and released after


# -- unwritable folders ------------------------------------------------------------------------


def test_check_writable_names_the_folder_and_the_fix(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(UnwritableError) as info:
        check_writable(blocker / "results", "results", "BOMF_RESULTS")
    msg = str(info.value)
    assert "\n" not in msg and str(blocker / "results") in msg and "BOMF_RESULTS" in msg and "permissions" in msg
    assert check_writable(tmp_path / "new" / "folder", "cache", "BOMF_CACHE").is_dir()


def test_writes_below_an_unwritable_folder_fail_in_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(UnwritableError) as info:
        write_json(blocker / "x" / "record.json", {"a": 1})
    assert "\n" not in str(info.value) and str(blocker / "x") in str(info.value)
    with pytest.raises(UnwritableError, match="BOMF_RESULTS"):
        ResultStore(blocker / "runs").write("s/t/m/default/last/seed0.json", {"key": "k"})


def test_a_damaged_or_outdated_record_is_recomputed_not_fatal(tmp_path):
    store = ResultStore(tmp_path)
    store.write("s/a.json", example_record(key="k1"))
    store.write("s/b.json", example_record(key="k1"))
    store.path("s/b.json").write_text('{"key": "k1", "trunc')  # foreign damage: writes are atomic
    store.write("s/c.json", {})
    assert store.done("s/a.json", "k1") and not store.done("s/a.json", "k2")  # another config: recompute
    assert not store.done("s/b.json", "k1") and not store.done("s/c.json", "k1")  # damaged: recompute
    records, problems = store.scan("s")
    assert records == [example_record(key="k1")]  # tables read only complete records...
    assert problems == [f"record {store.path('s/b.json')} cannot be read (not valid JSON: Unterminated string "
                        "starting at; truncated or damaged)",
                        f"record {store.path('s/c.json')} is incomplete (no key and {len(REQUIRED) - 1} more)"]
    with pytest.raises(BomfError, match="2 records of suite s .* cannot be used"):  # ...and never silently
        store.records("s")
    assert store.records("s", skip_bad=True) == records


def _committed_records(tmp_path, suite: str) -> Path:
    """A copy of the committed records of ``suite`` as a results folder of its own."""
    import shutil

    results = tmp_path / "results"
    shutil.copytree(REPO / "results" / "reference" / suite / "runs", results / suite / "runs")
    return results


def test_every_committed_record_is_a_complete_record():
    """Records made by older code (before keys held fingerprints) still build tables."""
    store = ResultStore(REPO / "results" / "reference")
    suites = sorted(p.name for p in store.root.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert {"offline", "stage1", "generation"} <= set(suites)
    for suite in suites:
        records, problems = store.scan(suite)
        assert records and problems == [], suite


def test_tables_only_names_every_unusable_record_and_exits_2(tmp_path, monkeypatch, capsys):
    """Issue 13: --tables-only dropped a truncated record without a word, and crashed on {}."""
    results = _committed_records(tmp_path, "generation")
    monkeypatch.setenv("BOMF_RESULTS", str(results))
    runs = results / "generation" / "runs" / "aclsum-summ" / "smollm2-135m" / "default"
    truncated, empty = runs / "bomf" / "seed0.json", runs / "last" / "seed0.json"
    truncated.write_bytes(truncated.read_bytes()[:5000])
    empty.write_text("{}")
    assert main(["run", "generation", "--tables-only"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"bomf: record {truncated} cannot be read (not valid JSON") and err[0].endswith("damaged)")
    assert err[1].startswith(f"bomf: record {empty} is incomplete (no key and ")
    assert len(err) == 3 and err[2].startswith("bomf: error: 2 records of suite generation") and "--skip-bad-records" in err[2]
    assert not (results / "generation" / "tables").exists()  # no table built from part of the results
    # Told to skip them (through run_all.py, which forwards the flag): tables from the rest, each
    # left-out record still named.
    import importlib.util

    spec = importlib.util.spec_from_file_location("run_all", REPO / "run_all.py")
    run_all = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_all)
    assert run_all.main(["--suite", "generation", "--tables-only", "--skip-bad-records"]) == 0
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if line.startswith("bomf: record")] == [
        line + "; left out of the tables" for line in err[:2]]
    assert "5 records ->" in captured.out
    table = (results / "generation" / "tables" / "aclsum-summ__smollm2-135m__default.md").read_text()
    assert "greedy_soup" in table and "| bomf " not in table


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions; the blocked-path test covers the check")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(UnwritableError, match="Permission denied"):
            check_writable(folder, "results", "BOMF_RESULTS")
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("variable", ["BOMF_RESULTS", "BOMF_CACHE"])
def test_unwritable_results_or_cache_fail_in_one_line_before_any_compute(tmp_path, monkeypatch, capsys, variable):
    (tmp_path / "one.toml").write_text(ONE_GROUP)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # mkdir below a file fails, for root too
    monkeypatch.setenv("BOMF_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(variable, str(blocker / "sub"))
    earlier = tmp_path / "results" / "twin" / "runs" / "earlier.json"  # a record from before: must survive
    if variable == "BOMF_CACHE":
        earlier.parent.mkdir(parents=True)
        earlier.write_text('{"key": "k"}\n')
    _no_compute(monkeypatch)
    monkeypatch.setattr(H, "run_group", lambda job, reused=None: pytest.fail("started a group"))
    assert main(["run", str(tmp_path / "one.toml"), "--quiet", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    what = "results" if variable == "BOMF_RESULTS" else "cache"
    assert len(err) == 1 and err[0].startswith(f"bomf: error: cannot write the {what} folder {blocker / 'sub'}")
    assert variable in err[0]
    assert not (tmp_path / "cache" / "trajectories").exists()
    if variable == "BOMF_CACHE":
        assert [p for p in (tmp_path / "results").rglob("*") if p.is_file()] == [earlier]
        assert earlier.read_text() == '{"key": "k"}\n'


def test_a_malformed_claim_timeout_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "one.toml").write_text(ONE_GROUP)
    monkeypatch.setenv("BOMF_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("BOMF_CLAIM_TIMEOUT", "soon")
    _no_compute(monkeypatch)
    assert main(["run", str(tmp_path / "one.toml"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "BOMF_CLAIM_TIMEOUT" in err[0] and "'soon'" in err[0]


def test_every_test_named_in_docs_reliability_exists():
    """docs/reliability.md names the test behind each guarantee; a renamed test must not leave it stale."""
    doc = (REPO / "docs" / "reliability.md").read_text()
    named, current = [], None
    for file, name in re.findall(r"`(?:((?:\w+/)*test_\w+\.py))?::(test_\w+)`", doc):
        current = file or current  # "`::test_x`" continues the file named before it
        named.append((current, name))
    assert len(named) >= 30
    missing = [f"{f}::{n}" for f, n in named if f"def {n}(" not in (REPO / "tests" / f).read_text()]
    assert missing == []
