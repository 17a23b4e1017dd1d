"""The paired comparison: metrics from confusion counts, Holm, power, and coverage on synthetic nulls."""

import math

import numpy as np
import pytest

from bomf.metrics.scores import METRICS
from bomf.reports.stats import combine, holm, make_draws, min_detectable, paired_comparison, replicate_values


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("metric", ["accuracy", "f1", "macro_f1", "matthews"])
def test_confusion_metrics_equal_sklearn_on_the_data_and_on_a_replicate(metric, n_classes):
    if metric == "f1" and n_classes > 2:
        pytest.skip("binary F1 of the positive class is defined for two classes only")
    rng = np.random.default_rng(n_classes)
    gold, pred = rng.integers(0, n_classes, 300), rng.integers(0, n_classes, 300)
    draws = make_draws(300, 4, seed=1, clusters=[i // 7 for i in range(300)])
    full, reps = replicate_values(metric, pred, gold, draws)
    assert full == pytest.approx(METRICS[metric](pred, gold), abs=1e-12)
    # replicate 2 by hand: every example of a drawn cluster, as many times as it was drawn
    counts = draws.counts[2].astype(int)
    idx = np.concatenate([np.repeat(np.flatnonzero(draws.cluster_of == c), k) for c, k in enumerate(counts) if k])
    assert reps[2] == pytest.approx(METRICS[metric](pred[idx], gold[idx]), abs=1e-12)


def test_other_metrics_and_per_example_scores_resample_the_same_way():
    rng = np.random.default_rng(0)
    gold, pred = rng.normal(size=80), rng.normal(size=80)
    draws = make_draws(80, 3, seed=0)
    full, reps = replicate_values("spearman", pred, gold, draws)
    assert full == pytest.approx(METRICS["spearman"](pred, gold))
    idx = np.repeat(np.arange(80), draws.counts[0].astype(int))
    assert reps[0] == pytest.approx(METRICS["spearman"](pred[idx], gold[idx]))
    full, reps = replicate_values("mean", np.arange(80.0), None, draws)
    assert full == pytest.approx(39.5) and reps[1] == pytest.approx(np.arange(80.0)[np.repeat(np.arange(80), draws.counts[1].astype(int))].mean())


def test_holm_matches_the_step_down_rule_written_out():
    p = [0.01, 0.04, 0.03, 0.2, 0.001]
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    expected, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        expected[i] = running
    assert holm(p) == pytest.approx(expected)
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.2, 0.005])  # 0.04 * 2 < 0.03 * 3: monotone
    # with one comparison Holm changes nothing
    assert holm([0.03]) == [0.03]


def test_minimum_detectable_difference_is_the_power_formula():
    # normal: (1.96 + 0.8416) standard errors; t with 2 df: (4.303 + 1.061)
    assert min_detectable(0.01, math.inf) == pytest.approx(0.028016, rel=1e-4)
    assert min_detectable(0.01, 2) == pytest.approx(0.05364, rel=1e-3)
    # a stricter level needs a larger difference
    assert min_detectable(0.01, math.inf, alpha=0.005) > min_detectable(0.01, math.inf)


def test_identical_predictions_give_zero_difference_and_no_test():
    gold = np.array([0, 1] * 50)
    res = paired_comparison("accuracy", [gold, gold], [gold.copy(), gold.copy()], [gold, gold], n_boot=200)
    assert res.identical and res.diff == 0 and res.p == 1.0 and res.se == 0


def test_seed_variance_widens_the_interval_beyond_test_noise():
    # per-seed differences far apart relative to their bootstrap noise: se is the seed spread
    reps = np.random.default_rng(0).normal(0, 0.001, size=(500, 3))
    res = combine([0.05, -0.02, 0.01], reps)
    assert res.se == pytest.approx(np.std([0.05, -0.02, 0.01], ddof=1) / math.sqrt(3), rel=0.05)
    assert 2 <= res.df < 2.5 and res.low < 0 < res.high  # t with about 2 df: noise
    # the same differences with one seed's worth of evidence each only (no spread): test noise
    flat = combine([0.01, 0.01, 0.01], reps)
    assert flat.se == pytest.approx(math.sqrt(reps.mean(1).var(ddof=1)), rel=0.01) and math.isinf(flat.df)


def _null(rng, seeds, n_clusters, per_cluster, seed_sd, cluster_sd):
    """A and B with the same distribution (true difference 0): per-seed skill (seed_sd, logit
    scale), per-cluster affinity shared by all seeds (cluster_sd), fresh test data each time."""
    n = n_clusters * per_cluster
    cluster = np.repeat(np.arange(n_clusters), per_cluster)
    gold = rng.integers(0, 2, n)
    preds = []
    for _ in range(2):
        affinity = rng.normal(0, cluster_sd, n_clusters)[cluster]
        skill = rng.normal(0, seed_sd, seeds)
        correct = rng.random((seeds, n)) < 1 / (1 + np.exp(-(1.4 + skill[:, None] + affinity)))
        preds.append([np.where(c, gold, 1 - gold) for c in correct])
    return preds[0], preds[1], [gold] * seeds, cluster


def _coverage(scenario, reps=300, clusters=True, test_noise_only=False):
    rng = np.random.default_rng(12345)
    hits = 0
    for r in range(reps):
        a, b, golds, cluster = _null(rng, **scenario)
        res = paired_comparison("accuracy", a, b, golds, n_boot=300, seed=r, clusters=cluster if clusters else None)
        if test_noise_only:  # the old bootstrap: seeds held fixed, examples resampled
            half = 1.96 * math.sqrt(res.test_var)
            hits += res.diff - half <= 0 <= res.diff + half
        else:
            hits += res.low <= 0 <= res.high
    return hits / reps


@pytest.mark.parametrize("scenario", [
    dict(seeds=3, n_clusters=400, per_cluster=1, seed_sd=0.0, cluster_sd=0.0),   # test noise only
    dict(seeds=3, n_clusters=400, per_cluster=1, seed_sd=0.3, cluster_sd=0.0),   # seed variance dominates
    dict(seeds=3, n_clusters=40, per_cluster=10, seed_sd=0.1, cluster_sd=1.5),   # clustered test examples
    dict(seeds=1, n_clusters=400, per_cluster=1, seed_sd=0.0, cluster_sd=0.0),   # one seed
], ids=["iid", "seed-variance", "clustered", "one-seed"])
def test_95_percent_intervals_cover_the_true_difference_on_a_synthetic_null(scenario):
    assert 0.91 <= _coverage(scenario) <= 0.99


def test_without_the_seed_level_or_the_clusters_the_intervals_undercover():
    # what the tables did before: seeds fixed, examples resampled one by one
    assert _coverage(dict(seeds=3, n_clusters=400, per_cluster=1, seed_sd=0.3, cluster_sd=0.0),
                     test_noise_only=True) < 0.8
    assert _coverage(dict(seeds=3, n_clusters=40, per_cluster=10, seed_sd=0.0, cluster_sd=1.5), clusters=False) < 0.85
