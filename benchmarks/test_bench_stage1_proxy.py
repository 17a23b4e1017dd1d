"""Stage-1 trial cost: the proxy (embeddings + 4 of MiniLM's 6 layers frozen) vs the full model.

One trial = the stage-1 suite's trial: fine-tune MiniLM on 1,500 rt-polarity sentences for one
epoch at the same (lr, batch size), evaluating the val split at 8 member steps (patience off, so
both run every step). Proxy and full trials alternate (proxy, full, proxy, full, ...) so both
see the same machine load; the ratio of median seconds is the wall-clock cost ratio, beside
the FLOPs-estimate ratio. Run with
``python -m pytest benchmarks/test_bench_stage1_proxy.py --benchmark-only -s`` (~5 min on 2 cores).
"""

import torch

from bomf.stage1.search import run_trial
from bomf.tasks import SplitLimits
from bomf.training.request import TrainConfig

from sidebyside import compare, record

BASE = TrainConfig(lr=1e-4, batch_size=32, epochs=1, num_members=8)
LIMITS = SplitLimits(train=1500)
VALUES = {"lr": 1e-4, "batch_size": 32}


def test_proxy_trial_vs_full_trial(benchmark):
    trials = {}

    def proxy():
        trials["proxy"] = run_trial("rt-polarity", "minilm", 0, BASE, LIMITS, VALUES, 4, None, "cpu")

    def full():
        trials["full"] = run_trial("rt-polarity", "minilm", 0, BASE, LIMITS, VALUES, 0, None, "cpu")

    result = compare(proxy, full, rounds=2, warmup=0)
    p, f = trials["proxy"], trials["full"]
    assert p.status == f.status == "ok" and p.optimizer_steps == f.optimizer_steps
    flops_ratio = p.flops_estimate / f.flops_estimate
    out = record("stage1_proxy_cost", result, seconds_ratio_proxy_over_full=1 / result["ratio"],
                 flops_ratio_proxy_over_full=flops_ratio, frozen_layers=4, model="minilm", task="rt-polarity",
                 train_examples=1500, steps=p.optimizer_steps, proxy_score=p.score, full_score=f.score,
                 threads=torch.get_num_threads())
    benchmark.extra_info["seconds_ratio"] = out["seconds_ratio_proxy_over_full"]
    print(f"\nproxy trial {out['ours_s']:.1f} s vs full trial {out['theirs_s']:.1f} s -> "
          f"{out['seconds_ratio_proxy_over_full']:.2f}x seconds, {flops_ratio:.2f}x FLOPs")
