"""The search loop shared by BOMF, its ablations and random search.

Search space: x in [0, 1]^K, fusion weights w = x / sum(x) (the authors' parameterisation;
many x give the same w, which the GP has to learn, but every w on the simplex is reachable).
The members' known val evaluations (one-hot x) seed the surrogate for free.

Example:
    >>> simplex_weights([0.0, 2.0, 2.0])
    [0.0, 0.5, 0.5]
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch

from ..bo import apply_normalisation, hypervolume, normalise_objectives, pareto_mask, reference_point, sobol_points
from .objective import NEG_LOSS, Evaluation, FusionObjective



def simplex_weights(x: Sequence[float]) -> list[float]:
    total = float(sum(x))
    if total <= 0:
        return [1.0 / len(x)] * len(x)
    return [float(v) / total for v in x]


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """BO numerics on one thread: on 2 cores, two threads slow down 3-10x under any contention."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def member_evaluations(objective: FusionObjective) -> list[Evaluation]:
    """The members' val evaluations: known ones (prior) or, if none were given, computed now."""
    if objective.prior:
        return list(objective.prior)
    k = objective.size
    return [objective([1.0 if j == i else 0.0 for j in range(k)], label=f"member {i}") for i in range(k)]


class SearchState:
    """Observations (x, objectives) and the normalisation derived from the members' evaluations."""

    def __init__(self, objective: FusionObjective, names: Sequence[str], members: Sequence[Evaluation],
                 margin: float = 0.1):
        self.objective = objective
        self.names = tuple(names)
        k = objective.size
        y_members = torch.tensor([[e.value(n) for n in self.names] for e in members], dtype=torch.double)
        self.lo, self.hi = normalise_objectives(y_members)
        self.ref_point = reference_point(apply_normalisation(y_members, self.lo, self.hi), margin)
        self.evaluations: list[Evaluation] = list(members)
        self.X: list[list[float]] = [[1.0 if j == i else 0.0 for j in range(k)] for i in range(len(members))]
        self.hypervolumes: list[float] = []
        self.bo_seconds = 0.0

    def Y(self) -> torch.Tensor:
        raw = torch.tensor([[e.value(n) for n in self.names] for e in self.evaluations], dtype=torch.double)
        return apply_normalisation(raw, self.lo, self.hi)

    def add(self, x: Sequence[float], ev: Evaluation) -> None:
        self.X.append([float(v) for v in x])
        self.evaluations.append(ev)
        self.hypervolumes.append(hypervolume(self.Y(), self.ref_point))

    def X_tensor(self) -> torch.Tensor:
        return torch.tensor(self.X, dtype=torch.double)


# suggest(state, seed) -> a [1, K] tensor in the unit cube: the next point to evaluate.
Suggest = Callable[[SearchState, int], torch.Tensor]


def run_search(objective: FusionObjective, budget: int, seed: int, names: Sequence[str], suggest: Suggest,
               n_init: int, margin: float = 0.1) -> SearchState:
    """Sobol initial design, then ``suggest(state, seed)`` until ``budget`` new evaluations.

    A suggestion that repeats an evaluated weight vector is replaced by a fresh Sobol point
    (the surrogate would otherwise propose it forever).
    """
    state = SearchState(objective, names, member_evaluations(objective), margin)
    k = objective.size
    start = objective.n_evaluations
    init = sobol_points(max(n_init, 0) + budget, k, seed)  # later rows: fallbacks for repeats
    fallback = n_init
    attempts = 0
    while objective.n_evaluations - start < budget and attempts < 4 * budget + n_init:
        attempts += 1
        i = objective.n_evaluations - start
        x = objective.recorded_point(objective.n_evaluations)
        if x is None:
            if i < n_init:
                x = init[i].tolist()
            else:
                t0 = time.perf_counter()
                with torch_threads(1):
                    x = suggest(state, seed + i)[0].tolist()
                state.bo_seconds += time.perf_counter() - t0
        before = objective.n_evaluations
        ev = objective(simplex_weights(x), x=x)
        if objective.n_evaluations == before:  # a repeat: nothing learned, try a fresh point
            x = init[min(fallback, len(init) - 1)].tolist()
            fallback += 1
            ev = objective(simplex_weights(x), x=x)
            if objective.n_evaluations == before:
                continue
        state.add(x, ev)
    return state


def pick(evaluations: Sequence[Evaluation], primary: str, rule: str, lo: torch.Tensor | None = None,
         hi: torch.Tensor | None = None, names: Sequence[str] | None = None) -> Evaluation:
    """The final choice among evaluated points, by a named rule.

    - ``pareto_best_metric`` (BOMF default): on the Pareto front, best primary metric, ties to lower loss;
    - ``best_metric``: best primary metric overall, ties to lower loss;
    - ``best_loss``: lowest val loss, ties to better metric;
    - ``pareto_utopia``: the Pareto point closest to the best value of every objective (normalised).
    """
    evs = list(evaluations)
    if rule == "best_metric":
        return max(evs, key=lambda e: (e.metrics[primary], -e.loss))
    if rule == "best_loss":
        return min(evs, key=lambda e: (e.loss, -e.metrics[primary]))
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
    raise ValueError(f"unknown pick rule {rule!r}; use pareto_best_metric, best_metric, best_loss or pareto_utopia")


PICK_RULES = ("pareto_best_metric", "best_metric", "best_loss", "pareto_utopia")
