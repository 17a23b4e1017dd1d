"""Paired comparisons of two methods over seeds and test examples: difference, interval, p, power.

Two methods A and B are scored on the same test examples in each of S seeds (one seed = one
fine-tuning trajectory; A and B fuse the same members). The quantity compared is the mean over
seeds of metric(A) - metric(B), and the question is whether it would hold for *new seeds and new
test examples*. Its variance has three parts, and the estimate used here takes each from where
it can be seen (docs/statistics.md derives it and reports its coverage):

- test-set noise shared by all seeds (the same examples are used in every seed): the mean
  covariance between seeds of the **cluster bootstrap** replicates (test clusters resampled with
  replacement, the same draw for every seed, so A and B stay paired);
- seed-to-seed variation (the trajectory's randomness) plus test noise that differs between
  seeds: the sample variance of the per-seed differences, divided by S, with S - 1 degrees of
  freedom;
- a floor: the variance can never be below the test-set variance of the seed mean.

So ``se**2 = max(s2 / S + shared, test_var)`` with a Satterthwaite ``df`` (infinite with one
seed, where seed variance cannot be estimated and the interval covers test noise only). The
interval and the two-sided p come from Student's t; the minimum detectable difference (MDE)
at 80% power is ``(t(1 - alpha/2) + t(power)) * se``.

Clusters: where test examples share a source (aclsum-qnli: every sentence three times, from
100 papers), resampling examples independently understates the noise; a task declares a
cluster id per test example and whole clusters are resampled. Metrics come from per-cluster
confusion counts, so one replicate costs a matrix product (``n_boot x clusters @ clusters x L^2``).

Example:
    >>> import numpy as np
    >>> gold = np.array([0, 1] * 200)
    >>> a, b = gold.copy(), gold.copy(); b[:100] = 1 - b[:100]
    >>> res = paired_comparison("accuracy", [a], [b], [gold], n_boot=500, seed=0)
    >>> round(res.diff, 2), res.low > 0, res.df
    (0.25, True, inf)
    >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import stats

from ..metrics.scores import METRICS

# Metrics computed from a confusion matrix, hence from per-cluster confusion counts.
CONFUSION_METRICS = ("accuracy", "f1", "macro_f1", "matthews")


@dataclass(frozen=True)
class Draws:
    """One bootstrap design: the cluster of each test example and the cluster counts of each replicate.

    ``counts[b, c]`` is how many times cluster ``c`` is drawn in replicate ``b`` (the clusters are
    drawn with replacement, as many as there are). Without clusters every example is its own.
    """

    cluster_of: np.ndarray  # (n_examples,) int in [0, n_clusters)
    counts: np.ndarray  # (n_boot, n_clusters) float

    @property
    def n_clusters(self) -> int:
        return self.counts.shape[1]

    @property
    def n_boot(self) -> int:
        return self.counts.shape[0]


def make_draws(n_examples: int, n_boot: int, seed: int, clusters: Sequence | None = None) -> Draws:
    """Bootstrap draws over ``n_examples`` test examples, resampling whole ``clusters`` if given."""
    if clusters is None:
        cluster_of = np.arange(n_examples)
    else:
        if len(clusters) != n_examples:
            raise ValueError(f"{len(clusters)} cluster ids for {n_examples} test examples")
        _, cluster_of = np.unique(np.asarray([str(c) for c in clusters]), return_inverse=True)
    n_clusters = int(cluster_of.max()) + 1 if n_examples else 0
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, n_clusters, size=(n_boot, n_clusters))  # cluster indices, with replacement
    rows = np.arange(n_boot)[:, None] * n_clusters
    counts = np.bincount((drawn + rows).ravel(), minlength=n_boot * n_clusters).reshape(n_boot, n_clusters)
    return Draws(cluster_of=cluster_of, counts=counts.astype(float))


def _confusion_values(name: str, conf: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``name`` from confusion matrices ``conf`` (replicates x gold x predicted)."""
    total = conf.sum((1, 2))
    diag = np.diagonal(conf, axis1=1, axis2=2)
    pred_counts, gold_counts = conf.sum(1), conf.sum(2)

    def div(a, b):
        return np.divide(a, b, out=np.zeros_like(a, dtype=float), where=b > 0)

    if name == "accuracy":
        return div(diag.sum(1), total)
    if name in ("f1", "macro_f1"):
        f1s = div(2 * diag, pred_counts + gold_counts)  # per class
        if name == "macro_f1":
            present = (pred_counts + gold_counts) > 0  # sklearn averages over labels seen in either
            return div((f1s * present).sum(1), present.sum(1).astype(float))
        pos = np.flatnonzero(classes == 1)
        return f1s[:, pos[0]] if len(pos) else np.zeros(len(conf))
    if name == "matthews":  # the multi-class form (Gorodkin); equals the binary one for two classes
        cov_ytyp = diag.sum(1) * total - (pred_counts * gold_counts).sum(1)
        cov_ypyp = total**2 - (pred_counts**2).sum(1)
        cov_ytyt = total**2 - (gold_counts**2).sum(1)
        return div(cov_ytyp, np.sqrt(cov_ypyp * cov_ytyt))
    raise ValueError(f"{name} is not a confusion-matrix metric")


def replicate_values(metric: str, pred: Sequence, gold: Sequence, draws: Draws) -> tuple[float, np.ndarray]:
    """The metric on all test examples and on every bootstrap replicate of ``draws``.

    ``metric = "mean"``: ``pred`` holds per-example scores (generation metrics; ``gold`` ignored).
    """
    pred, n_c = np.asarray(pred), draws.n_clusters
    if metric == "mean":
        per_cluster = np.stack([np.bincount(draws.cluster_of, weights=pred.astype(float), minlength=n_c),
                                np.bincount(draws.cluster_of, minlength=n_c).astype(float)], 1)
        full, reps = per_cluster.sum(0), draws.counts @ per_cluster
        return float(full[0] / full[1]), reps[:, 0] / reps[:, 1]
    gold = np.asarray(gold)
    if metric in CONFUSION_METRICS:
        classes, codes = np.unique(np.concatenate([gold, pred]), return_inverse=True)
        n_l = len(classes)
        g, p = codes[: len(gold)], codes[len(gold):]
        per_cluster = np.bincount(draws.cluster_of * n_l * n_l + g * n_l + p, minlength=n_c * n_l * n_l)
        per_cluster = per_cluster.reshape(n_c, n_l * n_l).astype(float)
        full = _confusion_values(metric, per_cluster.sum(0).reshape(1, n_l, n_l), classes)[0]
        reps = _confusion_values(metric, (draws.counts @ per_cluster).reshape(-1, n_l, n_l), classes)
        return float(full), reps
    # Anything else (correlations, custom metrics): expand each replicate into example indices.
    fn = METRICS[metric]
    members = [np.flatnonzero(draws.cluster_of == c) for c in range(n_c)]
    reps = []
    for row in draws.counts.astype(int):
        idx = np.concatenate([np.repeat(members[c], k) for c, k in enumerate(row) if k]) if row.any() else np.arange(0)
        reps.append(fn(pred[idx], gold[idx]))
    return float(fn(pred, gold)), np.asarray(reps, dtype=float)


@dataclass(frozen=True)
class Comparison:
    """A - B, mean over seeds, with its standard error, t interval, p and the pieces behind them."""

    diff: float
    se: float
    df: float
    low: float
    high: float
    p: float
    seeds: int
    seed_diffs: tuple[float, ...]
    test_var: float  # test-set variance of the seed mean (bootstrap)
    shared_var: float  # part of it shared by every seed (mean covariance between seeds)
    seed_var: float  # sample variance of the per-seed differences
    n_boot: int
    identical: bool  # A and B made the same predictions everywhere: nothing to test

    def to_dict(self) -> dict:
        return asdict(self)

    def mde(self, alpha: float = 0.05, power: float = 0.8) -> float:
        """The smallest true difference this comparison detects with ``power`` at level ``alpha``."""
        return min_detectable(self.se, self.df, alpha, power)


def combine(seed_diffs: Sequence[float], replicates: np.ndarray, identical: bool = False,
            confidence: float = 0.95) -> Comparison:
    """Comparison from the observed per-seed differences (S) and their bootstrap replicates (B x S)."""
    d = np.asarray(seed_diffs, dtype=float)
    reps = np.asarray(replicates, dtype=float).reshape(len(replicates), -1)
    s = len(d)
    diff = float(d.mean())
    test_var = float(reps.mean(1).var(ddof=1))
    if s == 1:
        shared, seed_var, se2, df = test_var, 0.0, test_var, math.inf
    else:
        cov = np.cov(reps, rowvar=False)
        shared = float((cov.sum() - np.trace(cov)) / (s * (s - 1)))
        seed_var = float(d.var(ddof=1))
        se2 = max(seed_var / s + shared, test_var)
        # Satterthwaite: only the between-seed part is uncertain (s - 1 degrees of freedom).
        df = se2**2 * (s - 1) / (seed_var / s) ** 2 if seed_var > 0 else math.inf
    se = math.sqrt(max(se2, 0.0))
    if se == 0.0:
        low = high = diff
        p = 1.0 if diff == 0 else 0.0
    else:
        t = _t_quantile(1 - (1 - confidence) / 2, df)
        low, high = diff - t * se, diff + t * se
        p = float(min(1.0, 2 * (stats.norm.sf(abs(diff) / se) if math.isinf(df) else stats.t.sf(abs(diff) / se, df))))
    return Comparison(diff=diff, se=se, df=df, low=low, high=high, p=p, seeds=s, seed_diffs=tuple(map(float, d)),
                      test_var=test_var, shared_var=shared, seed_var=seed_var, n_boot=len(reps), identical=identical)


def paired_comparison(metric: str, preds_a: Sequence, preds_b: Sequence, golds: Sequence, n_boot: int = 2000,
                      seed: int = 0, clusters: Sequence | None = None) -> Comparison:
    """A vs B over seeds: ``preds_a[s]``, ``preds_b[s]``, ``golds[s]`` are seed s's test predictions
    and labels (per-example scores and ignored labels for ``metric="mean"``).

    Seeds with the same test examples share one bootstrap draw (what they have in common is then
    measured as shared noise); seeds with different test sets get independent draws.
    """
    if not (len(preds_a) == len(preds_b) == len(golds)) or not golds:
        raise ValueError("paired comparison needs A's and B's predictions and the labels for the same seeds")
    same_set = all(len(g) == len(golds[0]) and np.array_equal(np.asarray(g), np.asarray(golds[0])) for g in golds)
    diffs, reps, identical = [], [], True
    shared = make_draws(len(golds[0]), n_boot, seed, clusters) if same_set else None
    for i, (a, b, g) in enumerate(zip(preds_a, preds_b, golds)):
        draws = shared or make_draws(len(g), n_boot, seed + i, clusters)
        fa, ra = replicate_values(metric, a, g, draws)
        fb, rb = replicate_values(metric, b, g, draws)
        diffs.append(fa - fb)
        reps.append(ra - rb)
        identical &= bool(np.array_equal(np.asarray(a), np.asarray(b)))
    return combine(diffs, np.stack(reps, 1), identical=identical)


def _t_quantile(q: float, df: float) -> float:
    return float(stats.norm.ppf(q) if math.isinf(df) else stats.t.ppf(q, df))


def min_detectable(se: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable difference of a two-sided test at ``alpha`` with ``power``:
    ``(t(1 - alpha/2, df) + t(power, df)) * se`` (the usual normal/t approximation).

    >>> round(min_detectable(0.01, math.inf), 4)   # 2.80 standard errors
    0.028
    """
    return (_t_quantile(1 - alpha / 2, df) + _t_quantile(power, df)) * se


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values (step-down, monotone), in the order given.

    A comparison is significant at family-wise level alpha when its adjusted p < alpha.
    """
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()
