"""Baseline ``best``: the single member with the best val metric (the "grid fine-tune" answer).

Ties go to the lower val loss, then to the earlier member.
"""

from bomf.fusion import FusionResult, register_method
from bomf.fusion.search import member_evaluations


@register_method("best", search=False)
def best(objective, pool, budget, seed):
    """The single member with the best primary val metric (ties: lower val loss)."""
    members = member_evaluations(objective)
    m = objective.primary_metric
    i = max(range(len(members)), key=lambda k: (members[k].metrics[m], -members[k].loss, -k))
    return FusionResult(weights=members[i].weights, evaluation=members[i], info={"member": i})
