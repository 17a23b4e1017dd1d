"""BOMF stage 2 and its two single-objective ablations.

``bomf``: multi-objective BO over the member weights. One GP per objective (every task metric
and the negated val loss), ``qLogNoisyExpectedHypervolumeImprovement``, objectives normalised
by the members' own evaluations, reference point just below the worst member. The members'
known evaluations seed the GPs; a Sobol design of ``n_init`` points (default K) follows.

``bo_loss`` / ``bo_metric``: the same space, budget and initial design, single-objective
``qLogExpectedImprovement`` on the val loss or the primary val metric (the paper's ablations).

Example:
    >>> from bomf.fusion import get_method
    >>> sorted(get_method("bomf").options)
    ['margin', 'n_init', 'num_restarts', 'objectives', 'pick_rule', 'raw_samples']
"""

from __future__ import annotations

from typing import Annotated, Literal

from ...bo import pareto_mask, suggest_multi_objective, suggest_single_objective
from ...core.errors import BomfError
from ...core.options import Range
from ..methods import FusionResult, register_method
from ..objective import NEG_LOSS
from ..search import PICK_RULES, pick, run_search


def _search_info(state, chosen, rule: str) -> dict:
    return {
        "objective_names": list(state.names),
        "pick_rule": rule,
        "normalisation": {"lo": state.lo.tolist(), "hi": state.hi.tolist()},
        "reference_point": state.ref_point.tolist(),
        "hypervolume": state.hypervolumes,
        "bo_seconds": state.bo_seconds,
        "chosen_source": chosen.source if chosen.source != "member" else (chosen.label or "member"),
    }


@register_method("bomf")
def bomf(objective, pool, budget, seed, *, n_init: Annotated[int, Range(1)] | None = None,
         pick_rule: Literal[PICK_RULES] = "pareto_best_metric", objectives: Literal["all", "primary"] = "all",
         num_restarts: Annotated[int, Range(1, 1000)] = 10, raw_samples: Annotated[int, Range(1, 100_000)] = 512,
         margin: Annotated[float, Range(0, 10)] = 0.1):
    """BOMF: multi-objective BO (qLogNEHVI) over member weights on every val metric and the val loss."""
    if pick_rule not in PICK_RULES:
        raise BomfError(f"unknown pick_rule {pick_rule!r}; use one of {', '.join(PICK_RULES)}")
    if objectives == "all":
        names = objective.objective_names
    elif objectives == "primary":
        names = (objective.primary_metric, NEG_LOSS)
    else:
        raise BomfError(f"objectives must be 'all' or 'primary', got {objectives!r}")

    def suggest(state, s):
        return suggest_multi_objective(state.X_tensor(), state.Y(), state.ref_point, seed=s,
                                       num_restarts=num_restarts, raw_samples=raw_samples)

    n0 = pool.size if n_init is None else n_init
    state = run_search(objective, budget, seed, names, suggest, n_init=min(n0, budget), margin=margin)
    chosen = pick(state.evaluations, objective.primary_metric, pick_rule, state.lo, state.hi, names)
    front = [i for i, keep in enumerate(pareto_mask(state.Y()).tolist()) if keep]
    info = _search_info(state, chosen, pick_rule)
    info["pareto_front"] = [{"weights": state.evaluations[i].weights, "loss": state.evaluations[i].loss,
                             "metrics": state.evaluations[i].metrics} for i in front]
    return FusionResult(weights=chosen.weights, evaluation=chosen, info=info)


def _single_objective(objective, pool, budget, seed, name, n_init, num_restarts, raw_samples):
    def suggest(state, s):
        return suggest_single_objective(state.X_tensor(), state.Y()[:, 0], seed=s, num_restarts=num_restarts,
                                        raw_samples=raw_samples)

    n0 = pool.size if n_init is None else n_init
    state = run_search(objective, budget, seed, (name,), suggest, n_init=min(n0, budget))
    rule = "best_loss" if name == NEG_LOSS else "best_metric"
    chosen = pick(state.evaluations, objective.primary_metric, rule)
    return FusionResult(weights=chosen.weights, evaluation=chosen, info=_search_info(state, chosen, rule))


@register_method("bo_loss")
def bo_loss(objective, pool, budget, seed, *, n_init: Annotated[int, Range(1)] | None = None,
            num_restarts: Annotated[int, Range(1, 1000)] = 10, raw_samples: Annotated[int, Range(1, 100_000)] = 512):
    """Ablation: single-objective BO (qLogEI) on the val loss only, same space and budget as BOMF."""
    return _single_objective(objective, pool, budget, seed, NEG_LOSS, n_init, num_restarts, raw_samples)


@register_method("bo_metric")
def bo_metric(objective, pool, budget, seed, *, n_init: Annotated[int, Range(1)] | None = None,
              num_restarts: Annotated[int, Range(1, 1000)] = 10, raw_samples: Annotated[int, Range(1, 100_000)] = 512):
    """Ablation: single-objective BO (qLogEI) on the primary val metric only, same space and budget."""
    return _single_objective(objective, pool, budget, seed, objective.primary_metric, n_init, num_restarts, raw_samples)


__all__ = ["bomf", "bo_loss", "bo_metric"]
