"""Baseline ``greedy_soup``: the model-soups greedy rule (Wortsman et al., 2022).

Rank the members by val metric (best first; ties to lower val loss), start the soup with the
best, make one pass over the rest and keep a member iff the uniform average of the kept set
plus that member has a strictly higher val metric than the kept set alone.

Example: a pool whose members all hurt the best one keeps only the best member.
"""

from bomf.fusion import FusionResult, register_method
from bomf.fusion.search import member_evaluations


def greedy_order(members, metric: str) -> list[int]:
    return sorted(range(len(members)), key=lambda k: (-members[k].metrics[metric], members[k].loss, k))


@register_method("greedy_soup", search=False)
def greedy_soup(objective, pool, budget, seed):
    """Model-soups greedy soup: add members by val rank while the val metric strictly improves."""
    metric = objective.primary_metric
    members = member_evaluations(objective)
    order = greedy_order(members, metric)
    kept = [order[0]]
    current = members[order[0]]
    k = pool.size
    for candidate in order[1:]:
        trial = kept + [candidate]
        w = [1.0 / len(trial) if j in trial else 0.0 for j in range(k)]
        ev = objective(w, label=f"greedy: {sorted(trial)}")
        if ev.metrics[metric] > current.metrics[metric]:
            kept, current = trial, ev
    return FusionResult(weights=current.weights, evaluation=current,
                        info={"order": order, "accepted": sorted(kept), "accepted_in_order": kept})
