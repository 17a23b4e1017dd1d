"""Paired bootstrap over test examples: is method A's test metric really different from B's?

Both methods are scored on the same test examples in each seed. One bootstrap replicate
resamples example indices (the same indices for A and B, the same for every seed), computes
the metric of A and of B on the resample in every seed, and averages over seeds. The 95%
interval of the difference A - B and a two-sided p-value come from the replicates. Metrics
are computed from confusion counts, vectorised over replicates.

Example:
    >>> import numpy as np
    >>> gold = np.array([0, 1] * 200)
    >>> a, b = gold.copy(), gold.copy(); b[:100] = 1 - b[:100]
    >>> res = paired_bootstrap("accuracy", [a], [b], [gold], n_boot=500, seed=0)
    >>> res["diff"] > 0 and res["low"] > 0
    True
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats

from ..metrics.scores import METRICS


def _counts(pred: np.ndarray, gold: np.ndarray, idx: np.ndarray):
    p, g = pred[idx], gold[idx]
    tp = ((p == 1) & (g == 1)).sum(1).astype(float)
    fp = ((p == 1) & (g != 1)).sum(1).astype(float)
    fn = ((p != 1) & (g == 1)).sum(1).astype(float)
    tn = ((p != 1) & (g != 1)).sum(1).astype(float)
    return tp, fp, fn, tn


def resampled_metric(name: str, pred: np.ndarray, gold: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The metric on each row of ``idx`` (replicates x examples).

    ``mean``: ``pred`` holds per-example scores (generation metrics) and ``gold`` is ignored.
    """
    if name == "mean":
        return pred[idx].astype(float).mean(1)
    if name == "accuracy":
        return (pred[idx] == gold[idx]).mean(1)
    if name == "f1":
        tp, fp, fn, _ = _counts(pred, gold, idx)
        denom = 2 * tp + fp + fn
        return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    if name == "matthews" and set(np.unique(gold)) <= {0, 1}:
        tp, fp, fn, tn = _counts(pred, gold, idx)
        denom = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return np.divide(tp * tn - fp * fn, denom, out=np.zeros_like(tp), where=denom > 0)
    if name in ("pearson", "spearman"):
        fn_ = stats.pearsonr if name == "pearson" else stats.spearmanr
        out = []
        for row in idx:
            p, g = pred[row], gold[row]
            out.append(0.0 if p.std() == 0 or g.std() == 0 else fn_(p, g)[0])
        return np.asarray(out)
    return np.asarray([METRICS[name](pred[row], gold[row]) for row in idx])


def paired_bootstrap(metric: str, preds_a: Sequence, preds_b: Sequence, golds: Sequence, n_boot: int = 2000,
                     seed: int = 0) -> dict:
    """Mean over seeds of metric(A) - metric(B), its 95% interval and a two-sided p-value."""
    rng = np.random.default_rng(seed)
    n = len(golds[0])
    if any(len(g) != n for g in golds):
        raise ValueError("paired bootstrap needs the same test examples in every seed")
    idx = rng.integers(0, n, size=(n_boot, n))
    diffs = np.zeros(n_boot)
    observed = 0.0
    full = np.arange(n)[None, :]
    for a, b, g in zip(preds_a, preds_b, golds):
        a, b, g = np.asarray(a), np.asarray(b), np.asarray(g)
        diffs += resampled_metric(metric, a, g, idx) - resampled_metric(metric, b, g, idx)
        observed += float(resampled_metric(metric, a, g, full)[0] - resampled_metric(metric, b, g, full)[0])
    k = len(golds)
    diffs /= k
    observed /= k
    p = 2 * min((diffs <= 0).mean(), (diffs >= 0).mean())
    return {"diff": observed, "low": float(np.quantile(diffs, 0.025)), "high": float(np.quantile(diffs, 0.975)),
            "p": float(min(1.0, p)), "seeds": k, "n_boot": n_boot}
