"""Does the proxy rank hyperparameters like the full model? (The premise of BOMF's stage 1.)

Evaluate the same small grid of (learning rate, batch size) on the proxy (bottom layers frozen)
and on the full model, and report Spearman's rank correlation of their scores. The trials are
the stage-1 trials (same cache), so the full-model grid is shared with the ``grid`` strategy.

Example:
    >>> rank_correlation([0.8, 0.7, 0.9], [0.81, 0.75, 0.86])
    1.0
"""

from __future__ import annotations

from dataclasses import replace

from scipy import stats

from .search import search
from ..tasks import SplitLimits
from ..training.request import TrainConfig


def rank_correlation(a, b) -> float:
    """Spearman's rho; NaN when either side is constant (no ranking to compare)."""
    if len(set(a)) < 2 or len(set(b)) < 2:
        return float("nan")
    return float(stats.spearmanr(a, b)[0])


def alignment(task: str, model: str, seed: int, base: TrainConfig, limits: SplitLimits | None, lrs, batch_sizes,
              freeze_layers: int, trial_epochs: int | None = None) -> dict:
    points = [{"lr": float(a), "batch_size": int(b)} for a in lrs for b in batch_sizes]
    trial_base = replace(base, epochs=trial_epochs or base.epochs)
    runs = {}
    for name, freeze in (("proxy", freeze_layers), ("full", 0)):
        res = search(task, model, seed, trial_base, limits, strategy="grid", trials=len(points), grid=points,
                     freeze_layers=freeze, patience=None)
        runs[name] = res
    proxy = [t.score for t in runs["proxy"].trials]
    full = [t.score for t in runs["full"].trials]
    return {
        "points": points, "proxy_scores": proxy, "full_scores": full,
        "spearman": rank_correlation(proxy, full),
        "proxy_best": runs["proxy"].best, "full_best": runs["full"].best,
        "proxy_seconds": runs["proxy"].costs["seconds"], "full_seconds": runs["full"].costs["seconds"],
        "proxy_flops": runs["proxy"].costs["flops_estimate"], "full_flops": runs["full"].costs["flops_estimate"],
        "freeze_layers": freeze_layers,
    }
