"""Baseline ``last``: the final checkpoint of the trajectory (what plain fine-tuning ships)."""

from bomf.fusion import FusionResult, register_method


@register_method("last", search=False)
def last(objective, pool, budget, seed):
    """The last member of the trajectory (plain fine-tuning)."""
    w = [0.0] * (pool.size - 1) + [1.0]
    return FusionResult(weights=w, evaluation=objective(w, label="last member"))
