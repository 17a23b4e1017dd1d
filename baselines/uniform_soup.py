"""Baseline ``uniform_soup``: the plain mean of the K members (model soups' uniform soup)."""

from bomf.fusion import FusionResult, register_method


@register_method("uniform_soup", search=False)
def uniform_soup(objective, pool, budget, seed):
    """The uniform average of all K members."""
    w = [1.0 / pool.size] * pool.size
    return FusionResult(weights=w, evaluation=objective(w, label="uniform soup"))
