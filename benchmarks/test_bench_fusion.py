"""Fusion speed and memory: ``CheckpointPool.fuse`` (one K x P matrix-vector product into a flat
buffer the live model views) vs a naive weighted sum of state dicts, and vs the pool's previous
in-place ``torch._foreach_add_`` loop.

The naive way, as fusion scripts often write it: build a new state dict
``{name: sum(w_k * sd_k[name])}`` and ``load_state_dict`` it into the model. Same K = 10
members of MiniLM (22.7M parameters), same weights, timed side by side (interleaved) at the
process's default torch threads and at one thread. Memory: the pool's tensors against
(K + 1) x the model's size, and the resident memory a pool built from K safetensors files
adds to a process (measured in a fresh subprocess). Target: >= 5x the naive way; memory
<= 1.1 x (K + 1) x model size. Run with
``python -m pytest benchmarks/test_bench_fusion.py --benchmark-only -s``.
"""

import json
import subprocess
import sys
import textwrap

import torch
from safetensors.torch import save_file

from bomf.fusion import CheckpointPool
from bomf.models import get_model

from sidebyside import compare, record

K = 10


def _members(base, k, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [{n: (t + 0.01 * torch.randn(t.shape, generator=gen) if t.is_floating_point() else t.clone())
             for n, t in base.items()} for _ in range(k)]


def _state_bytes(state) -> int:
    seen, total = set(), 0
    for t in state.values():
        key = (t.untyped_storage().data_ptr(), t.storage_offset())
        if key not in seen:
            seen.add(key)
            total += t.numel() * t.element_size()
    return total


def _resident_pool_memory(tmp_path, members, k) -> dict:
    """RSS that building a pool from K member files adds to a fresh process holding the live model."""
    files = []
    for i, m in enumerate(members):
        path = tmp_path / f"member_{i:02d}.safetensors"
        save_file({n: t.contiguous() for n, t in m.items()}, str(path))
        files.append(str(path))
    script = textwrap.dedent(f"""
        import gc, json, os, resource, functools
        import torch
        from safetensors.torch import load_file
        from bomf.fusion.pool import CheckpointPool, LazyStates
        from bomf.models import get_model
        def rss():
            return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        model = get_model("minilm").build_classifier(2, seed=0)
        gc.collect(); before = rss()
        pool = CheckpointPool(model, LazyStates([functools.partial(load_file, f) for f in {files!r}]))
        gc.collect(); after = rss()
        print(json.dumps({{"rss_added_bytes": after - before, "rss_peak_bytes": resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss * 1024, "rss_before_bytes": before}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_pool_fuse_vs_naive_sum(benchmark, tmp_path):
    spec = get_model("minilm")
    model = spec.build_classifier(2, seed=0)
    base = {n: t.clone() for n, t in model.state_dict().items()}
    model_bytes = _state_bytes(base)
    members = _members(base, K)
    pool = CheckpointPool(model, members)
    naive_model = spec.build_classifier(2, seed=1)
    foreach_targets = [t.clone() for n, t in base.items() if n in pool.names]
    foreach_members = [[m[n] for n in pool.names] for m in members]
    gen = torch.Generator().manual_seed(1)
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

    def foreach():  # the pool before the flat buffer: K in-place multi-tensor adds
        torch._foreach_zero_(foreach_targets)
        for wk, tensors in zip(weights[turn[0]], foreach_members):
            torch._foreach_add_(foreach_targets, tensors, alpha=wk)

    pool.fuse(weights[0])
    turn[0] = 0
    naive()
    foreach()
    ours_state, naive_state = model.state_dict(), naive_model.state_dict()
    diff_naive = max(float((ours_state[n] - naive_state[n]).abs().max()) for n in pool.names)
    diff_foreach = max(float((ours_state[n] - t).abs().max()) for n, t in zip(pool.names, foreach_targets))
    scale = max(float(ours_state[n].abs().max()) for n in pool.names)
    assert diff_naive < 1e-5 and diff_foreach < 1e-5

    result = compare(ours, naive, rounds=5)
    old = compare(ours, foreach, rounds=5)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = compare(ours, naive, rounds=5)
    finally:
        torch.set_num_threads(threads)

    mem = pool.memory()
    live_bytes = _state_bytes(model.state_dict())
    pool_bytes = mem["members_bytes"] + live_bytes
    resident = _resident_pool_memory(tmp_path, members, K)
    out = record("fusion_speed", result, members=K, model="minilm",
                 params=sum(t.numel() for t in base.values() if t.is_floating_point()),
                 ratio_one_thread=one["ratio"], one_thread=one, cpu_ratio_one_thread=one["cpu_ratio"],
                 ratio_vs_foreach=old["ratio"], foreach_s=old["theirs_s"],
                 max_abs_diff_vs_naive=diff_naive, max_abs_diff_vs_foreach=diff_foreach, max_abs_value=scale,
                 model_bytes=model_bytes, pool_members_bytes=mem["members_bytes"], live_model_bytes=live_bytes,
                 pool_memory_over_k_plus_1_models=pool_bytes / ((K + 1) * model_bytes),
                 rss_added_over_k_models=resident["rss_added_bytes"] / (K * model_bytes), **resident)
    benchmark.extra_info.update({k: out[k] for k in ("ratio", "ratio_one_thread", "ratio_vs_foreach",
                                                     "pool_memory_over_k_plus_1_models")})
    print(f"\nfuse: {out['ours_s'] * 1000:.0f} ms vs naive sum: {out['theirs_s'] * 1000:.0f} ms -> {out['ratio']:.1f}x "
          f"({threads} threads; on one thread {one['ratio']:.1f}x wall, {one['cpu_ratio']:.1f}x CPU time; "
          f"{old['ratio']:.1f}x the foreach loop; load average {result['load_average']:.1f}); "
          f"max |diff| vs naive {diff_naive:.1e} (values up to {scale:.2f}); pool memory "
          f"{out['pool_memory_over_k_plus_1_models']:.3f} x (K + 1) x model, resident "
          f"{out['rss_added_over_k_models']:.3f} x K x model added by the pool")
    benchmark.pedantic(ours, rounds=5, iterations=1)
