"""The search loop shared by BOMF, its variants and ablations: initial design, BO steps, resume, picks.

A search walks points of a space (``bomf.bo.spaces``: the paper's cube ``x -> x / sum(x)``, the
cube with a scale-free GP, or the simplex itself); the members' known val evaluations (the
corners, one-hot) seed the surrogate for free. After an initial design of ``n_init`` points,
each step asks ``step(state, seed)`` for a ``bomf.bo.Suggestion``.

**What a step sees.** ``SearchState.active_names()``: the objectives that are not constant over
the data so far (a metric equal for every member, e.g. F1 = 0 when every member predicts the
majority class, has nothing for a GP to model and would otherwise own a share of the
hypervolume); ``normalised``: objectives scaled by the members' own range (by the range of the
data so far for an objective constant over the members), and the reference point ``margin``
below the worst member.

**Fallbacks are recorded.** A step whose GP cannot be used returns a seeded random point with
its reason; a suggestion repeating an evaluated weight vector is replaced by a fresh point of
the initial design (reason ``repeat``). ``info`` counts both (``fallbacks``), and a search whose
every BO step failed (a repeat is not a failure: the GP chose a known point) raises: it would be
random search under another name.

**Resume, bit for bit.** Every BO step (its points, fitted GP state, seconds, fallback) is
appended (fsynced) to ``search.jsonl`` beside the objective's journal *before* its points are
evaluated. A resumed search replays the steps from that file (no refit; the warm start of the
next fit is the stored state, read back exactly) and the evaluations from the objective's
journal, so it walks the same path as an uninterrupted run and accounts the replayed BO time.

Example:
    >>> simplex_weights([0.0, 2.0, 2.0])
    [0.0, 0.5, 0.5]
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..bo import (NO_SIGNAL, Suggestion, apply_normalisation, get_space, hypervolume, normalise_objectives,
                  pareto_mask, reference_point)
from ..bo.gp import posterior_mean
from ..bo.pareto import SPAN_FLOOR
from ..bo.spaces import SearchSpace
from ..core.device import torch_threads
from ..core.errors import BomfError
from .objective import NEG_LOSS, Evaluation, FusionObjective

# Fallback reasons that do not make a step a failure (see run_search).
NOT_FAILURES = ("repeat", NO_SIGNAL)


def simplex_weights(x: Sequence[float]) -> list[float]:
    total = float(sum(x))
    if total <= 0:
        return [1.0 / len(x)] * len(x)
    return [float(v) / total for v in x]


def member_evaluations(objective: FusionObjective) -> list[Evaluation]:
    """The members' val evaluations: known ones (prior) or, if none were given, computed now."""
    if objective.prior:
        return list(objective.prior)
    k = objective.size
    return [objective([1.0 if j == i else 0.0 for j in range(k)], label=f"member {i}") for i in range(k)]


class SearchJournal:
    """BO steps of one search, appended (fsync) beside the objective's journal and read back on resume."""

    def __init__(self, objective: FusionObjective):
        self.steps: list[dict] = []
        self.path: Path | None = None
        if objective.journal is None:
            return
        self.path = Path(objective.journal).with_name("search.jsonl")
        header = {"header": objective.identity, "kind": "bo-steps"}
        if not self.path.exists():
            self._write(json.dumps(header, sort_keys=True) + "\n", "w")
            return
        raw = self.path.read_bytes()
        if raw and not raw.endswith(b"\n"):  # a kill mid-write: the partial step was never used
            raw = raw[: raw.rfind(b"\n") + 1]
            self.path.write_bytes(raw)
        lines = raw.decode("utf-8").splitlines()
        if not lines or json.loads(lines[0]) != json.loads(json.dumps(header, sort_keys=True)):
            raise BomfError(f"search journal {self.path} belongs to another fusion run; delete its folder to start afresh")
        self.steps = [json.loads(line) for line in lines[1:]]

    def _write(self, text: str, mode: str) -> None:
        with open(self.path, mode, encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    def append(self, step: dict) -> None:
        self.steps.append(step)
        if self.path is not None:
            self._write(json.dumps(step, sort_keys=True) + "\n", "a")


class SearchState:
    """Observations (points, objectives), the members' normalisation, and the BO steps taken so far."""

    def __init__(self, objective: FusionObjective, names: Sequence[str], members: Sequence[Evaluation],
                 space: SearchSpace | str = "cube", margin: float = 0.1):
        self.objective = objective
        self.names = tuple(names)
        self.space = get_space(space) if isinstance(space, str) else space
        self.margin = margin
        self.n_members = len(members)
        k = objective.size
        self.evaluations: list[Evaluation] = list(members)
        self.X: list[list[float]] = [[1.0 if j == i else 0.0 for j in range(k)] for i in range(len(members))]
        self.sources: list[str] = ["member"] * len(members)
        self.steps: list[dict] = []  # BO steps: fallback reason, seconds, replayed
        self.warm: dict | None = None  # the last fitted GP state (a warm start for the next fit)

    # -- data ---------------------------------------------------------------------------------
    def raw(self, names: Sequence[str] | None = None) -> torch.Tensor:
        names = self.names if names is None else tuple(names)
        return torch.tensor([[e.value(n) for n in names] for e in self.evaluations], dtype=torch.double)

    def X_tensor(self) -> torch.Tensor:
        return torch.tensor(self.X, dtype=torch.double)

    def add(self, x: Sequence[float], ev: Evaluation, source: str) -> None:
        self.X.append([float(v) for v in x])
        self.evaluations.append(ev)
        self.sources.append(source)

    # -- objectives -----------------------------------------------------------------------------
    def active_names(self) -> tuple[str, ...]:
        """The objectives that vary over the data so far (members and evaluations)."""
        Y = self.raw()
        out = []
        for j, n in enumerate(self.names):
            col = Y[:, j][torch.isfinite(Y[:, j])]
            if col.numel() and float(col.max() - col.min()) > 0:
                out.append(n)
        return tuple(out)

    def normalisation(self, names: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per objective ``(lo, hi)``: the members' range, or the data's range where the members tie."""
        Y = self.raw(names)
        lo, hi = normalise_objectives(Y[: self.n_members])
        narrow = (Y[: self.n_members].max(0).values - Y[: self.n_members].min(0).values) < SPAN_FLOOR
        if narrow.any():
            finite = torch.where(torch.isfinite(Y), Y, torch.nan)
            dlo, dhi = normalise_objectives(torch.nan_to_num(finite, nan=float(finite.nanmean())))
            lo, hi = torch.where(narrow, dlo, lo), torch.where(narrow, dhi, hi)
        return lo, hi

    def normalised(self, names: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Y, ref_point)`` of ``names`` in normalised units (members span [0, 1] per objective)."""
        lo, hi = self.normalisation(names)
        Y = apply_normalisation(self.raw(names), lo, hi)
        return Y, reference_point(Y[: self.n_members], self.margin)

    def hypervolume_trace(self) -> list[float]:
        """Hypervolume (active objectives, normalised) after each evaluation of the search."""
        names = self.active_names()
        if len(names) < 2:
            return []
        Y, ref = self.normalised(names)
        return [hypervolume(Y[: i + 1], ref) for i in range(self.n_members, len(Y))]

    # -- bookkeeping -----------------------------------------------------------------------------
    @property
    def bo_seconds(self) -> float:
        """Wall time of the BO steps (GP fits, acquisitions), replayed steps at their recorded time."""
        return sum(s["seconds"]["step"] for s in self.steps)

    def info(self) -> dict:
        """What every BO search records: steps, fallbacks and why, BO time (replayed steps included)."""
        reasons: dict[str, int] = {}
        for s in self.steps:
            for why in s["fallbacks"]:
                reasons[why] = reasons.get(why, 0) + 1
        search_points = [x for x, src in zip(self.X, self.sources) if src not in ("member",)]
        bo_points = [x for x, src in zip(self.X, self.sources) if src == "bo"]
        return {
            "objective_names": list(self.names),
            "active_objectives": list(self.active_names()),
            "space": self.space.name,
            "bo_seconds": self.bo_seconds,
            "bo_steps": self.steps,
            "fallbacks": {"count": sum(reasons.values()), "reasons": reasons},
            "replayed": {"steps": sum(s["replayed"] for s in self.steps),
                         "bo_seconds": sum(s["seconds"]["step"] for s in self.steps if s["replayed"])},
            "face_share": {"search": _mean([self.space.on_faces(x) for x in search_points]),
                           "bo": _mean([self.space.on_faces(x) for x in bo_points])},
            "hypervolume": self.hypervolume_trace(),
        }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


# step(state, seed) -> a Suggestion (its x: q points of the space).
Step = Callable[[SearchState, int], Suggestion]


def _step_record(s: Suggestion, replayed: bool) -> dict:
    return {"fallbacks": [s.fallback] if s.fallback else [], "replayed": replayed,
            "seconds": {"fit": s.fit_seconds, "acquisition": s.acquisition_seconds, "step": s.extra["step_seconds"]}}


def _next_step(state: SearchState, journal: SearchJournal, step: Step, seed: int) -> tuple[Suggestion, bool]:
    """The next BO step: read back from the journal (a resumed search) or computed and journaled first."""
    j = len(state.steps)
    if j < len(journal.steps):  # no refit: the recorded points and GP state, read back exactly
        rec = journal.steps[j]
        sug = Suggestion(x=torch.tensor(rec["x"], dtype=torch.double), fallback=rec["fallback"], gp_state=rec["gp"],
                         fit_seconds=rec["seconds"]["fit"], acquisition_seconds=rec["seconds"]["acquisition"],
                         extra={"step_seconds": rec["seconds"]["step"]})
        replayed = True
    else:
        t0 = time.perf_counter()
        with torch_threads(1):
            sug = step(state, seed)
        sug.extra["step_seconds"] = time.perf_counter() - t0
        journal.append({"step": j, "x": sug.x.tolist(), "fallback": sug.fallback, "gp": sug.gp_state,
                        "seconds": {"fit": sug.fit_seconds, "acquisition": sug.acquisition_seconds,
                                    "step": sug.extra["step_seconds"]}})
        replayed = False
    if sug.gp_state is not None:
        state.warm = sug.gp_state
    return sug, replayed


def run_search(objective: FusionObjective, budget: int, seed: int, names: Sequence[str], step: Step, n_init: int,
               margin: float = 0.1, space: SearchSpace | str = "cube", init: Sequence[Sequence[float]] = (),
               method: str = "search") -> SearchState:
    """``init`` points, then the space's Sobol design up to ``n_init``, then ``step`` until ``budget``.

    A suggestion that repeats an evaluated weight vector is replaced by the next point of the
    design (a recorded fallback). Raises ``BomfError`` if every BO step fell back.
    """
    state = SearchState(objective, names, member_evaluations(objective), space, margin)
    space = state.space
    k = objective.size
    journal = SearchJournal(objective)
    start = objective.n_evaluations
    n_init = max(0, min(n_init, budget))
    given = [torch.tensor(p, dtype=torch.double) for p in list(init)[:n_init]]
    n_sobol = n_init - len(given)
    sobol = space.initial_design(n_sobol + budget, k, seed)  # rows after the design replace repeats
    design = given + list(sobol[:n_sobol])
    spare = deque(sobol[n_sobol:])
    queue: deque = deque()
    attempts = 0
    while objective.n_evaluations - start < budget and attempts < 4 * budget + n_init:
        attempts += 1
        i = objective.n_evaluations - start
        if not queue:
            if i < len(design):
                queue.append((design[i], "init"))
            else:
                sug, replayed = _next_step(state, journal, step, seed + i)
                state.steps.append(_step_record(sug, replayed))
                src = "bo" if sug.fallback is None else "fallback"
                queue.extend((x, src) for x in sug.x)
        x, src = queue.popleft()
        x = [float(v) for v in x]
        before = objective.n_evaluations
        ev = objective(space.weights(x), x=x)
        if objective.n_evaluations == before:  # a repeat: nothing learned, take a fresh design point
            if src in ("bo", "fallback") and state.steps:
                state.steps[-1]["fallbacks"].append("repeat")
            if not spare:
                continue
            x, src = [float(v) for v in spare.popleft()], "repeat"
            ev = objective(space.weights(x), x=x)
            if objective.n_evaluations == before:
                continue
        state.add(x, ev, src)
    # A search whose GP never produced a usable suggestion is random search under another name.
    # A repeat is not such a failure: the GP worked and chose a point already known (the search
    # has converged there); it is recorded and replaced, but does not make the search random.
    # Nor is a metric with no signal (a degenerate trajectory): the fallbacks are recorded and the
    # tables flag them, but the cell is a result, not an error.
    failed = [s for s in state.steps if any(why not in NOT_FAILURES for why in s["fallbacks"])]
    if state.steps and len(failed) == len(state.steps):
        reasons = sorted({why for s in failed for why in s["fallbacks"] if why not in NOT_FAILURES})
        raise BomfError(f"every BO step of {method} fell back to a random point ({'; '.join(reasons)}); "
                        "its result would be random search: check the method's options and the members' evaluations")
    return state


def pick(evaluations: Sequence[Evaluation], primary: str, rule: str, lo: torch.Tensor | None = None,
         hi: torch.Tensor | None = None, names: Sequence[str] | None = None, loss_margin: float = 0.1,
         n_members: int | None = None, n_examples: int | None = None) -> Evaluation:
    """The final choice among evaluated points, by a named rule.

    - ``pareto_best_metric`` (the paper's): on the Pareto front, best primary metric, ties to lower loss;
    - ``best_metric``: best primary metric overall, ties to lower loss;
    - ``best_loss``: lowest val loss, ties to better metric;
    - ``pareto_utopia``: the Pareto point closest to the best value of every objective (normalised);
    - ``loss_guard``: best primary metric among the points whose val loss is at most the best
      member's plus ``loss_margin`` times the members' loss range (the first ``n_members``
      evaluations are the members); ties to lower loss;
    - ``posterior_mean``: the best GP posterior mean of the primary metric (a GP over the fusion
      weights of every evaluation; binomial noise for a metric in [0, 1] on ``n_examples`` val
      examples, as ``selection_info``), not the noisy observation; ties to lower loss.

    Example:
        >>> from bomf.fusion.objective import Evaluation
        >>> evs = [Evaluation([1.0, 0.0], 0.5, {"acc": 0.80}), Evaluation([0.0, 1.0], 0.4, {"acc": 0.78}),
        ...        Evaluation([0.5, 0.5], 0.7, {"acc": 0.82})]
        >>> pick(evs, "acc", "best_metric").metrics["acc"], pick(evs, "acc", "loss_guard", n_members=2).metrics["acc"]
        (0.82, 0.78)
    """
    evs = list(evaluations)
    if rule == "best_metric":
        return max(evs, key=lambda e: (e.metrics[primary], -e.loss))
    if rule == "best_loss":
        return min(evs, key=lambda e: (e.loss, -e.metrics[primary]))
    if rule == "loss_guard":
        members = evs[: n_members or len(evs)]
        losses = [e.loss for e in members]
        limit = min(losses) + loss_margin * (max(losses) - min(losses))
        return max((e for e in evs if e.loss <= limit), key=lambda e: (e.metrics[primary], -e.loss))
    if rule == "posterior_mean":
        W = torch.tensor([e.weights for e in evs], dtype=torch.double)
        y = torch.tensor([e.metrics[primary] for e in evs], dtype=torch.double)
        if float(y.max() - y.min()) <= 0:
            return max(evs, key=lambda e: -e.loss)
        noise = None
        if n_examples and float(y.min()) >= 0 and float(y.max()) <= 1:
            noise = (y * (1 - y)).clamp_min(1.0 / n_examples) / n_examples
        mu = posterior_mean(W, y, W, noise=noise).tolist()
        return evs[max(range(len(evs)), key=lambda i: (mu[i], -evs[i].loss))]
    names = tuple(names or (primary, NEG_LOSS))
    y = torch.tensor([[e.value(n) for n in names] for e in evs], dtype=torch.double)
    front = [e for e, keep in zip(evs, pareto_mask(y).tolist()) if keep]
    if rule == "pareto_best_metric":
        return max(front, key=lambda e: (e.metrics[primary], -e.loss))
    if rule == "pareto_utopia":
        assert lo is not None and hi is not None
        yf = apply_normalisation(torch.tensor([[e.value(n) for n in names] for e in front], dtype=torch.double), lo, hi)
        utopia = yf.max(dim=0).values
        return front[int(((yf - utopia) ** 2).sum(-1).argmin())]
    raise ValueError(f"unknown pick rule {rule!r}; use one of {', '.join(PICK_RULES)}")


PICK_RULES = ("pareto_best_metric", "best_metric", "best_loss", "pareto_utopia", "loss_guard", "posterior_mean")


def selection_info(evaluations: Sequence[Evaluation], chosen: Evaluation, primary: str,
                   n_examples: int | None = None) -> dict:
    """The chosen val score and an estimate of its optimism (the winner's curse), for the record.

    ``optimism`` = the chosen point's val metric minus the posterior mean there of a GP over the
    fusion weights of every evaluation (members included). For a metric in [0, 1] measured on
    ``n_examples`` val examples (accuracy and its kin) each observation's noise variance is taken
    as binomial, ``p (1 - p) / n`` (``estimator: gp_binomial_noise``); otherwise the noise is
    learned (``gp_learned_noise``), which underestimates (see ``docs/search.md``). Zero when the
    metric is constant.
    """
    t0 = time.perf_counter()
    evs = [e for e in evaluations if e.weights]
    W = torch.tensor([e.weights for e in evs], dtype=torch.double)
    y = torch.tensor([e.metrics[primary] for e in evs], dtype=torch.double)
    val = float(chosen.metrics[primary])
    out = {"metric": primary, "val": val}
    if not chosen.weights or float(y.max() - y.min()) <= 0:
        return {**out, "posterior_mean": val, "optimism": 0.0, "estimator": "none (constant metric or no weights)"}
    noise = None
    if n_examples and float(y.min()) >= 0 and float(y.max()) <= 1:
        noise = (y * (1 - y)).clamp_min(1.0 / n_examples) / n_examples
    with torch_threads(1):
        mu = float(posterior_mean(W, y, torch.tensor([chosen.weights], dtype=torch.double), noise=noise)[0])
    return {**out, "posterior_mean": mu, "optimism": val - mu,
            "estimator": "gp_binomial_noise" if noise is not None else "gp_learned_noise",
            "n_examples": n_examples, "seconds": time.perf_counter() - t0}


def val_examples(objective: FusionObjective) -> int | None:
    """How many val examples the objective's metric is measured on (None if its evaluator does not say)."""
    try:
        return int(len(objective.evaluator))
    except TypeError:
        return None
