"""Stage-1 hyperparameter search: GP-BO (or a grid) over fine-tuning runs of a model or its proxy.

The space: learning rate (log scale) and batch size (integer), optionally warm-up ratio and
weight decay. A trial fine-tunes with those values (the proxy: bottom ``freeze_layers`` layers
frozen) and scores the best primary val metric along its run, stopping early when the metric
stops improving. A trial that fails (NaN or exploding loss, out of memory) is recorded and
scored as the worst value, and the search goes on. Every trial is appended to a journal, so a
killed search resumes without re-running finished trials. Inside ``journal_only()`` a search
is read back from a finished journal and never computed (``Stage1NotCached`` instead): how the
harness learns a stored cell's stage-1 choice while it plans. The journal's key holds the search's
settings and everything a trial's training depends on (the base trajectory request's identity:
data and weight fingerprints, config, device, ``TRAINER_VERSION``) plus ``HPO_VERSION``.

Example:
    >>> space = SearchSpace()
    >>> space.decode([0.0, 1.0])["batch_size"], round(space.decode([1.0, 0.0])["lr"], 6)
    (64, 0.0003)
"""

from __future__ import annotations

import json
import math
import os
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from ..bo import sobol_points, suggest_single_objective
from ..core.errors import BomfError, TrainingDivergedError
from ..core.fingerprint import content_key
from ..core.paths import cache_dir
from ..tasks import SplitLimits, get_task
from ..training.request import TrainConfig, TrajectoryRequest
from ..training.trajectory import train_trajectory

# Bump when a change alters a search's trials or choice (part of the journal key).
# 2: the key holds the base trajectory identity (fingerprints, device, trainer version).
HPO_VERSION = "2"


class Stage1NotCached(BomfError):
    """Inside ``journal_only()``: the search's journal is missing or unfinished."""


_JOURNAL_ONLY: ContextVar[bool] = ContextVar("bomf_stage1_journal_only", default=False)


@contextmanager
def journal_only():
    """Within this block a search only reads back a finished journal; one that would run a
    trial raises ``Stage1NotCached`` (planning must never train)."""
    token = _JOURNAL_ONLY.set(True)
    try:
        yield
    finally:
        _JOURNAL_ONLY.reset(token)


@dataclass(frozen=True)
class SearchSpace:
    """Bounds of the searched hyperparameters; ``warmup_ratio``/``weight_decay`` None = not searched."""

    lr: tuple[float, float] = (1e-5, 3e-4)
    batch_size: tuple[int, int] = (8, 64)
    warmup_ratio: tuple[float, float] | None = None
    weight_decay: tuple[float, float] | None = None

    def names(self) -> list[str]:
        return ["lr", "batch_size"] + [n for n in ("warmup_ratio", "weight_decay") if getattr(self, n) is not None]

    @property
    def dim(self) -> int:
        return len(self.names())

    def decode(self, x) -> dict:
        """A point of [0,1]^dim -> hyperparameter values (lr log-uniform, batch size rounded)."""
        out = {}
        for name, u in zip(self.names(), x):
            lo, hi = getattr(self, name)
            u = min(max(float(u), 0.0), 1.0)
            if name == "lr":
                out[name] = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
            elif name == "batch_size":
                out[name] = int(round(lo + u * (hi - lo)))
            else:
                out[name] = lo + u * (hi - lo)
        return out

    def encode(self, values: dict) -> list[float]:
        x = []
        for name in self.names():
            lo, hi = getattr(self, name)
            v = values[name]
            x.append((math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)) if name == "lr" else (v - lo) / (hi - lo))
        return x


@dataclass
class Trial:
    values: dict
    score: float
    status: str  # "ok" | "failed"
    error: str | None = None
    optimizer_steps: int = 0
    seconds: float = 0.0
    flops_estimate: float = 0.0
    curve: list[float] = field(default_factory=list)
    x: list[float] | None = None


def run_trial(task: str, model: str, seed: int, base: TrainConfig, limits: SplitLimits | None, values: dict,
              freeze_layers: int, patience: int | None, device: str = "auto") -> Trial:
    """Fine-tune once with ``values`` and score the best primary val metric along the run."""
    config = replace(base, freeze_layers=freeze_layers, **values)
    request = TrajectoryRequest(task=task, model=model, seed=seed, config=config, limits=limits)
    start = time.perf_counter()
    try:
        traj = train_trajectory(request, device=device, save_members=False, patience=patience)
    except (TrainingDivergedError, torch.cuda.OutOfMemoryError, MemoryError) as exc:
        return Trial(values=values, score=float("nan"), status="failed", error=str(exc).splitlines()[0],
                     seconds=time.perf_counter() - start)
    primary = get_task(task).primary_metric
    curve = [m["val"]["metrics"][primary] for m in traj.info["members"]]
    c = traj.info["costs"]
    return Trial(values=values, score=max(curve), status="ok", optimizer_steps=c["optimizer_steps"],
                 seconds=time.perf_counter() - start, flops_estimate=c["flops_estimate"], curve=curve)


class TrialJournal:
    """Trials of one search, appended as they finish (JSON lines, fsynced); replayed on resume."""

    def __init__(self, path: Path, identity: dict, read_only: bool = False):
        """``read_only``: read what is there and write nothing (a planner reading a journal that
        another process may be appending to must not cut its half-written line)."""
        self.path = path
        self.trials: list[Trial] = []
        identity = json.loads(json.dumps(identity, sort_keys=True, default=str))  # as it reads back
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        raw = path.read_bytes() if path.exists() else b""
        raw = raw[: raw.rfind(b"\n") + 1]  # a kill mid-write leaves half a line: drop it
        lines = raw.decode().splitlines()
        if not lines:
            if not read_only:
                path.write_text(json.dumps({"header": identity}, sort_keys=True) + "\n")
            return
        if json.loads(lines[0]).get("header") != identity:
            raise BomfError(f"trial journal {path} belongs to another search; delete it")
        self.trials = [Trial(**json.loads(line)) for line in lines[1:]]
        if not read_only:
            path.write_bytes(raw)

    def append(self, trial: Trial) -> None:
        with open(self.path, "a") as fh:
            fh.write(json.dumps(asdict(trial), sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.trials.append(trial)


@dataclass
class SearchResult:
    best: dict
    trials: list[Trial]
    costs: dict


def scores_for_surrogate(trials: list[Trial]) -> list[float]:
    """Failed trials count as the worst value seen (or 0 if none succeeded)."""
    ok = [t.score for t in trials if t.status == "ok"]
    worst = min(ok) if ok else 0.0
    return [t.score if t.status == "ok" else worst for t in trials]


def search(task: str, model: str, seed: int, base: TrainConfig, limits: SplitLimits | None, *, strategy: str,
           trials: int, freeze_layers: int = 0, space: SearchSpace = SearchSpace(), n_init: int = 3,
           patience: int | None = 3, grid: list[dict] | None = None, device: str = "auto", trial_fn=run_trial) -> SearchResult:
    """Run (or resume) a search; ``strategy`` is "bo" (GP + qLogEI) or "grid" (the given points)."""
    base_request = TrajectoryRequest(task=task, model=model, seed=seed, config=base, limits=limits, device=device)
    identity = {"base": base_request.identity(), "strategy": strategy, "trials": trials,
                "freeze_layers": freeze_layers, "space": asdict(space), "n_init": n_init, "patience": patience,
                "grid": grid, "version": HPO_VERSION}
    key = content_key(identity)
    path = cache_dir("stage1", key, "trials.jsonl")
    where = f"stage-1 {strategy} search of {task}/{model}/seed{seed} (journal {path})"
    if _JOURNAL_ONLY.get() and not path.exists():
        raise Stage1NotCached(f"the {where} is not in the cache")
    journal = TrialJournal(path, identity, read_only=_JOURNAL_ONLY.get())
    points = grid if strategy == "grid" else None
    if strategy == "grid" and not grid:
        raise BomfError("a grid search needs grid points")
    total = len(points) if points is not None else trials
    if _JOURNAL_ONLY.get() and len(journal.trials) < total:
        raise Stage1NotCached(f"the {where} has {len(journal.trials)} of {total} trials")
    init = sobol_points(n_init, space.dim, seed)
    while len(journal.trials) < total:
        i = len(journal.trials)
        if points is not None:
            values, x = points[i], None
        elif i < n_init:
            x = init[i].tolist()
            values = space.decode(x)
        else:
            X = torch.tensor([t.x for t in journal.trials], dtype=torch.double)
            y = torch.tensor(scores_for_surrogate(journal.trials), dtype=torch.double)
            x = suggest_single_objective(X, y, seed=seed + i)[0].tolist()
            values = space.decode(x)
            if any(t.values == values for t in journal.trials):  # rounding made it a repeat
                x = torch.rand(space.dim, generator=torch.Generator().manual_seed(seed + i), dtype=torch.double).tolist()
                values = space.decode(x)
        trial = trial_fn(task, model, seed, base, limits, values, freeze_layers, patience, device)
        trial.x = x if x is not None else space.encode(values) if set(space.names()) <= set(values) else None
        journal.append(trial)
    done = journal.trials
    ok = [t for t in done if t.status == "ok"]
    if not ok:
        raise BomfError(f"every stage-1 trial failed on {task}/{model} (last: {done[-1].error}); narrow the search space")
    best = max(ok, key=lambda t: t.score)
    costs = {"trials": len(done), "failed": sum(t.status != "ok" for t in done),
             "optimizer_steps": sum(t.optimizer_steps for t in done), "seconds": sum(t.seconds for t in done),
             "flops_estimate": sum(t.flops_estimate for t in done)}
    return SearchResult(best=best.values, trials=done, costs=costs)
