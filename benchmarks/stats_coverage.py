"""Coverage of the tables' 95% intervals on synthetic nulls, against the alternatives considered.

Two methods A and B with the same distribution (true difference 0) are scored on fresh test data
in S seeds: per-seed skill (``seed_sd``, logit scale) makes trajectories differ, per-cluster
affinity shared by every seed (``cluster_sd``) makes test examples of one source alike. For each
scenario, ``reps`` nulls are drawn and four intervals are checked for covering 0:

- ``tables``: what the tables use (``bomf.reports.stats.paired_comparison``);
- ``examples only``: the earlier bootstrap, seeds fixed, examples resampled one by one;
- ``two-level percentile``: seeds and examples resampled (Owen's pigeonhole bootstrap), 2.5/97.5%;
- ``no clusters``: the tables' method with every example its own cluster.

Run: ``python benchmarks/stats_coverage.py [--reps 500]``; writes ``results/benchmarks/stats_coverage.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bomf.reports.stats import make_draws, paired_comparison, replicate_values  # noqa: E402

SCENARIOS = {
    "iid, no seed variance": dict(seeds=3, n_clusters=500, per_cluster=1, seed_sd=0.0, cluster_sd=0.0),
    "iid, seed variance": dict(seeds=3, n_clusters=500, per_cluster=1, seed_sd=0.3, cluster_sd=0.0),
    "iid, small seed variance": dict(seeds=3, n_clusters=500, per_cluster=1, seed_sd=0.1, cluster_sd=0.0),
    "clustered (50 x 10), seed variance": dict(seeds=3, n_clusters=50, per_cluster=10, seed_sd=0.1, cluster_sd=1.5),
    "2 seeds, seed variance": dict(seeds=2, n_clusters=500, per_cluster=1, seed_sd=0.3, cluster_sd=0.0),
    "1 seed": dict(seeds=1, n_clusters=500, per_cluster=1, seed_sd=0.0, cluster_sd=0.0),
}


def null(rng, seeds, n_clusters, per_cluster, seed_sd, cluster_sd):
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


def pigeonhole(a, b, golds, clusters, n_boot, rng):
    draws = make_draws(len(golds[0]), n_boot, int(rng.integers(1 << 30)), clusters)
    reps = np.stack([replicate_values("accuracy", x, g, draws)[1] - replicate_values("accuracy", y, g, draws)[1]
                     for x, y, g in zip(a, b, golds)], 1)
    pick = rng.integers(0, reps.shape[1], size=reps.shape)
    means = np.take_along_axis(reps, pick, 1).mean(1)
    return np.quantile(means, [0.025, 0.975])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--n-boot", type=int, default=400)
    args = ap.parse_args()
    out = {"reps": args.reps, "n_boot": args.n_boot, "scenarios": {}}
    for name, sc in SCENARIOS.items():
        rng = np.random.default_rng(2024)
        hits = {"tables": 0, "examples only": 0, "two-level percentile": 0, "no clusters": 0}
        width = {k: 0.0 for k in hits}
        for r in range(args.reps):
            a, b, golds, cluster = null(rng, **sc)
            res = paired_comparison("accuracy", a, b, golds, n_boot=args.n_boot, seed=r, clusters=cluster)
            flat = paired_comparison("accuracy", a, b, golds, n_boot=args.n_boot, seed=r)
            half = 1.96 * math.sqrt(flat.test_var)
            intervals = {"tables": (res.low, res.high), "examples only": (flat.diff - half, flat.diff + half),
                         "two-level percentile": tuple(pigeonhole(a, b, golds, cluster, args.n_boot, rng)),
                         "no clusters": (flat.low, flat.high)}
            for k, (lo, hi) in intervals.items():
                hits[k] += lo <= 0 <= hi
                width[k] += hi - lo
        out["scenarios"][name] = {"setting": sc, **{k: {"coverage": hits[k] / args.reps,
                                                        "mean_width": width[k] / args.reps} for k in hits}}
        print(name, {k: f"{hits[k] / args.reps:.3f} / {width[k] / args.reps:.4f}" for k in hits}, flush=True)
    path = ROOT / "results" / "benchmarks" / "stats_coverage.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
