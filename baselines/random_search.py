"""Baseline ``random_search``: Dirichlet(1) weights, best val metric (a sanity floor for BO).

Uses the same budget of fused evaluations as the BO methods; the members' known evaluations
are candidates too, as they are for BOMF. The record carries the chosen val score and an
estimate of its optimism (``info["selection"]``, as every search method's).

Example:
    >>> from bomf.fusion import get_method
    >>> sorted(get_method("random_search").options)
    ['concentration']
"""

from typing import Annotated

import numpy as np

from bomf.core.options import Range
from bomf.fusion import FusionResult, register_method
from bomf.fusion.search import member_evaluations, pick, selection_info, val_examples


@register_method("random_search")
def random_search(objective, pool, budget, seed, *, concentration: Annotated[float, Range(0, None, low_open=True)] = 1.0):
    """Random Dirichlet weights within the budget; the best primary val metric wins."""
    rng = np.random.default_rng(seed)
    evaluations = list(member_evaluations(objective))
    start, attempts = objective.n_evaluations, 0
    while objective.n_evaluations - start < budget and attempts < 4 * budget:
        attempts += 1
        w = rng.dirichlet([concentration] * pool.size).tolist()
        evaluations.append(objective(w))
    chosen = pick(evaluations, objective.primary_metric, "best_metric")
    return FusionResult(weights=chosen.weights, evaluation=chosen,
                        info={"selection": selection_info(evaluations, chosen, objective.primary_metric,
                                                          val_examples(objective))})
