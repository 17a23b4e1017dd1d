"""Fusion speed: ``CheckpointPool.fuse`` (in place, multi-tensor ops) vs a naive weighted sum.

The naive way, as fusion scripts often write it: build a new state dict
``{name: sum(w_k * sd_k[name])}`` and ``load_state_dict`` it into the model. Same K = 10
members of MiniLM (22.7M parameters), same weights. Run with
``python -m pytest benchmarks/test_bench_fusion.py --benchmark-only -s``.
"""

import torch

from bomf.fusion import CheckpointPool
from bomf.models import get_model

from sidebyside import compare, record

K = 10


def test_pool_fuse_vs_naive_sum(benchmark):
    spec = get_model("minilm")
    model = spec.build_classifier(2, seed=0)
    base = model.state_dict()
    gen = torch.Generator().manual_seed(0)
    members = [{n: (t + 0.01 * torch.randn(t.shape, generator=gen) if t.is_floating_point() else t.clone())
                for n, t in base.items()} for _ in range(K)]
    pool = CheckpointPool(model, members)
    naive_model = spec.build_classifier(2, seed=1)
    weights = [torch.rand(K, generator=gen) for _ in range(2)]
    weights = [(w / w.sum()).tolist() for w in weights]
    turn = [0]

    def ours():
        turn[0] ^= 1
        pool.fuse(weights[turn[0]])  # alternate so the "same weights" shortcut never fires

    def naive():
        w = weights[turn[0]]
        fused = {n: sum(wk * m[n] for wk, m in zip(w, members)) if base[n].is_floating_point() else base[n]
                 for n in base}
        naive_model.load_state_dict(fused)

    pool.fuse(weights[0])
    turn[0] = 0
    naive()
    assert all(torch.allclose(model.state_dict()[n], naive_model.state_dict()[n], atol=1e-6) for n in pool.names)
    result = compare(ours, naive, rounds=5)
    out = record("fusion_speed", result, members=K, model="minilm",
                 params=sum(t.numel() for t in base.values() if t.is_floating_point()))
    benchmark.extra_info["ratio"] = out["ratio"]
    print(f"\nfuse: {out['ours_s'] * 1000:.0f} ms vs naive sum: {out['theirs_s'] * 1000:.0f} ms -> {out['ratio']:.1f}x")
    benchmark.pedantic(ours, rounds=5, iterations=1)
