"""The fusion objective: weights -> every val metric and the val loss.

It counts and times every evaluation, answers repeats from a cache, and appends each new
evaluation to a journal (JSON lines, fsynced) so a killed run resumes without evaluating a
weight vector twice. It is built from the val split only: ``from_trajectory`` never loads
an evaluator for test, and the constructor refuses an evaluator of any other split.

The members' own val evaluations, made during training, are known for free; they are exposed
as ``prior`` (one-hot weights) and do not count against a method's budget.

Several methods fused on one trajectory often ask for the same weight vector (BOMF and its
ablations share their Sobol design; greedy soup meets the uniform soup). ``SharedEvaluations``,
held by the pipeline's ``FusionContext``, lets them evaluate it once: a method that finds its
weight vector there is charged as if it had evaluated it (it counts against its budget, its
history and journal hold it with the original's seconds) and the evaluation says where it came
from (``shared_from``). The numbers are the same as a fresh evaluation's, since fusing and
evaluating one weight vector on one val split is deterministic.

Example (with a toy evaluator):
    >>> import torch
    >>> from bomf.fusion.pool import CheckpointPool
    >>> live = torch.nn.Linear(1, 1, bias=False)
    >>> pool = CheckpointPool(live, [{"weight": torch.tensor([[1.0]])}, {"weight": torch.tensor([[3.0]])}])
    >>> class Toy:
    ...     split_name = "val"
    ...     def __call__(self, model):
    ...         from bomf.evaluation.base import EvalResult
    ...         w = model.weight.item()
    ...         return EvalResult(loss=(w - 2) ** 2, metrics={"accuracy": -abs(w - 2)}, n=1)
    >>> obj = FusionObjective(pool, Toy(), metric_names=("accuracy",), primary_metric="accuracy")
    >>> obj([0.5, 0.5]).loss, obj.n_evaluations
    (0.0, 1)
    >>> shared = SharedEvaluations()
    >>> first = FusionObjective(pool, Toy(), ("accuracy",), "accuracy", shared=shared, owner="bomf")
    >>> second = FusionObjective(pool, Toy(), ("accuracy",), "accuracy", shared=shared, owner="bo_loss")
    >>> ev = second(first([0.5, 0.5]).weights)
    >>> ev.shared_from, second.n_evaluations, second.n_computed, second.n_shared
    ('bomf', 1, 0, 1)
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch

from ..core.errors import BomfError
from .pool import CheckpointPool

NEG_LOSS = "neg_loss"


@dataclass
class Evaluation:
    weights: list[float]
    loss: float
    metrics: dict[str, float]
    seconds: float = 0.0
    source: str = "fused"  # "fused" | "member" | "state"
    index: int = -1  # position in the objective's history; -1 for prior and state evaluations
    x: list[float] | None = None  # the method's raw search point, if it has one
    label: str | None = None
    replayed: bool = False  # read back from the journal rather than computed in this process
    shared_from: str | None = None  # evaluated by this method (owner) of the trajectory, shared, charged here

    def value(self, name: str) -> float:
        """An objective's value, maximised: a metric, or ``neg_loss`` = -loss."""
        return -self.loss if name == NEG_LOSS else self.metrics[name]

    def to_dict(self) -> dict:
        return asdict(self)


def weight_key(weights: Sequence[float]) -> tuple[float, ...]:
    return tuple(round(float(w), 12) for w in weights)


class SharedEvaluations:
    """Fused evaluations of one trajectory's val split, shared by the methods fused on it.

    Only valid for one (pool, val evaluator): the pipeline keeps one per ``FusionContext``.
    Holds each weight vector's first evaluation and the method (owner) that made it.
    """

    def __init__(self):
        self._by_key: dict[tuple[float, ...], tuple[Evaluation, str]] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, key: tuple[float, ...]) -> tuple[Evaluation, str] | None:
        return self._by_key.get(key)

    def put(self, key: tuple[float, ...], ev: Evaluation, owner: str) -> None:
        if key not in self._by_key:
            self._by_key[key] = (ev, owner)


class FusionObjective:
    """Evaluate fused weights on the val split; see the module docstring."""

    def __init__(self, pool: CheckpointPool, evaluator, metric_names: Sequence[str], primary_metric: str,
                 prior: Sequence[Evaluation] = (), journal: str | os.PathLike | None = None,
                 identity: dict | None = None, shared: SharedEvaluations | None = None, owner: str = "?"):
        if getattr(evaluator, "split_name", None) != "val":
            raise BomfError("a fusion objective must be built on the val split; the test split is the pipeline's")
        self.pool = pool
        self.evaluator = evaluator
        self.metric_names = tuple(metric_names)
        self.primary_metric = primary_metric
        self.prior = list(prior)
        self.history: list[Evaluation] = []
        self.n_computed = 0
        self.seconds = 0.0  # seconds of the evaluations computed in this process
        self.n_shared = 0
        self.shared_seconds = 0.0  # the original seconds of shared evaluations: charged, not spent here
        self.shared = shared
        self.owner = owner
        self._cache: dict[tuple[float, ...], Evaluation] = {weight_key(e.weights): e for e in self.prior}
        self._replay: dict[tuple[float, ...], dict] = {}
        self._journaled: list[dict] = []
        self.journal = Path(journal) if journal is not None else None
        # Normalised as JSON reads it back (tuples become lists), so a resumed run recognises its journal.
        self.identity = json.loads(json.dumps(identity or {}, sort_keys=True, default=str))
        # Called with each new evaluation (progress bars); not with cache hits.
        self.on_evaluation = None
        if self.journal is not None:
            self._open_journal()

    # -- what methods use -------------------------------------------------------------
    @property
    def objective_names(self) -> tuple[str, ...]:
        """All maximised objectives: every task metric, then the negated val loss."""
        return (*self.metric_names, NEG_LOSS)

    @property
    def size(self) -> int:
        return self.pool.size

    @property
    def n_evaluations(self) -> int:
        """Fused evaluations spent so far (journal replays and shared ones included; repeats and prior not)."""
        return len(self.history)

    def __call__(self, weights: Sequence[float], x: Sequence[float] | None = None, label: str | None = None) -> Evaluation:
        w = [float(v) for v in weights]
        if len(w) != self.size or any(v != v or v < 0 for v in w) or sum(w) <= 0:
            raise BomfError(f"fusion weights must be {self.size} non-negative numbers with a positive sum, got {w}")
        key = weight_key(w)
        if key in self._cache:
            return self._cache[key]
        hit = self.shared.get(key) if self.shared is not None else None
        if key in self._replay:
            entry = self._replay.pop(key)
            ev = Evaluation(**{**entry, "index": len(self.history), "replayed": True})
        elif hit is not None:
            original, owner = hit
            self.n_shared += 1
            self.shared_seconds += original.seconds
            ev = Evaluation(weights=w, loss=original.loss, metrics=dict(original.metrics), seconds=original.seconds,
                            index=len(self.history), x=None if x is None else [float(v) for v in x], label=label,
                            shared_from=owner)
            self._append(ev)
        else:
            start = time.perf_counter()
            res = self.evaluator(self.pool.fuse(w))
            seconds = time.perf_counter() - start
            self.n_computed += 1
            self.seconds += seconds
            ev = Evaluation(weights=w, loss=res.loss, metrics=res.metrics, seconds=seconds, index=len(self.history),
                            x=None if x is None else [float(v) for v in x], label=label)
            self._append(ev)
        self.history.append(ev)
        self._cache[key] = ev
        if self.shared is not None:
            self.shared.put(key, ev, ev.shared_from or self.owner)
        if self.on_evaluation is not None:
            self.on_evaluation(ev)
        return ev

    def recorded_point(self, index: int) -> list[float] | None:
        """The raw search point of the ``index``-th journaled evaluation, if one was recorded.

        A resumed search asks for this before suggesting: following the recorded points makes
        it walk the same path as before the kill even if a suggestion would differ in the last bit.
        """
        if index < len(self._journaled):
            return self._journaled[index].get("x")
        return None

    def evaluate_state(self, state: dict[str, torch.Tensor], label: str) -> Evaluation:
        """Evaluate a state that is not a weighting of the members (e.g. SWA); not journaled."""
        start = time.perf_counter()
        res = self.evaluator(self.pool.load_state(state))
        return Evaluation(weights=[], loss=res.loss, metrics=res.metrics, seconds=time.perf_counter() - start,
                          source="state", label=label)

    # -- the journal --------------------------------------------------------------------
    def _open_journal(self) -> None:
        path = self.journal
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(json.dumps({"header": self.identity}, sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            return
        raw = path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            # A kill mid-write leaves a partial last line: drop it, it was never complete.
            raw = raw[: raw.rfind(b"\n") + 1]
            with open(path, "wb") as fh:
                fh.write(raw)
        lines = raw.decode("utf-8").splitlines()
        if not lines:
            raise BomfError(f"journal {path} is empty; delete it to start this fusion afresh")
        header = json.loads(lines[0]).get("header")
        if header != self.identity:
            raise BomfError(f"journal {path} belongs to another fusion run; delete it or use another folder")
        for line in lines[1:]:
            entry = json.loads(line)
            entry.pop("replayed", None)
            self._replay[weight_key(entry["weights"])] = entry
            self._journaled.append(entry)

    def _append(self, ev: Evaluation) -> None:
        if self.journal is None:
            return
        with open(self.journal, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(ev.to_dict(), sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
