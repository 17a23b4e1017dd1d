"""Killing a sweep at random moments and re-running gives the records of an uninterrupted run."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from bomf.harness.store import ResultStore

SUITE = """
name = "killme"
seeds = [0, 1]
budget = 5
methods = ["bomf", "random_search", "greedy_soup", "uniform_soup", "swa"]
[train]
epochs = 2
batch_size = 8
num_members = 3
lr = 1e-3
[method_options.bomf]
num_restarts = 2
raw_samples = 32
[[tasks]]
name = "rt-polarity"
models = ["tiny-bert"]
limits = { train = 96, val = 48, test = 48 }
"""

TIMING = {"seconds", "method_seconds", "eval_seconds", "overhead_seconds", "test_seconds", "bo_seconds",
          "train_seconds", "member_eval_seconds", "peak_rss_mb", "computed_evaluations", "replayed", "train_seconds",
          "replayed_evaluations",
          # which method of the trajectory evaluated a shared weight vector first depends on what ran in this process
          "shared_from", "shared_evaluations", "shared_seconds"}


def _strip(obj):
    """A record without what may differ between two runs: timings, provenance, resume bookkeeping."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items()
                if k not in TIMING and k not in ("git_commit", "git_dirty", "hardware", "versions", "python")}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _run(tmp: Path, name: str, kill_after: float | None = None) -> int:
    env = {**os.environ, "BOMF_CACHE": str(tmp / f"cache-{name}"), "BOMF_RESULTS": str(tmp / f"results-{name}")}
    cmd = [sys.executable, "-m", "bomf.cli", "run", str(tmp / "killme.toml"), "--quiet", "--device", "cpu"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after is None:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-2000:]
        return proc.returncode
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return proc.returncode


def test_sigkill_at_random_moments_then_resume_matches_an_uninterrupted_run(tmp_path):
    (tmp_path / "killme.toml").write_text(SUITE)
    _run(tmp_path, "clean")
    rng = random.Random(7)
    for _ in range(4):  # kills land in imports, training, BO and record writing
        _run(tmp_path, "killed", kill_after=rng.uniform(3.0, 14.0))
    _run(tmp_path, "killed")
    clean = ResultStore(tmp_path / "results-clean").records("killme")
    killed = ResultStore(tmp_path / "results-killed").records("killme")
    assert len(clean) == len(killed) == 10
    for a, b in zip(clean, killed):
        assert a["cell"] == b["cell"]
        assert _strip(a) == _strip(b), a["cell"]
    # No half-written file is left where a reader would take it for a record.
    leftovers = [p for p in (tmp_path / "results-killed").rglob("*") if p.is_file() and p.suffix != ".json"
                 and "tables" not in p.parts and "plots" not in p.parts]
    assert all(p.name.startswith(".") for p in leftovers)
