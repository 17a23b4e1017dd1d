"""Learned soup's val pass: fused tensors built once per pass (version 2) vs once per batch (version 1).

One L-BFGS closure of ``learned_soup`` is a forward and backward pass over the whole val split
with the soup's fused parameters. Version 1 rebuilt ``sum_k alpha_k theta_k`` (and its
backward) inside the batch loop; version 2 (``baselines/learned_soup.py::full_val_loss``) makes
the fused tensors once with one product with the pool's K x P matrix and carries dL/dtheta back
to the logits once. Both on MiniLM (K = 8 members: the pre-trained classifier plus noise) and
the 500 rt-polarity val sentences, timed side by side (interleaved, medians), with the loss and
gradient compared. Run with ``python -m pytest benchmarks/test_bench_learned_soup.py --benchmark-only -s``
(-> ``results/benchmarks/learned_soup_speed.json``).
"""

import sys

import torch
from torch.func import functional_call

from bomf.fusion import CheckpointPool, get_method
from bomf.training.build import build_evaluator, build_model
from bomf.training.request import TrajectoryRequest

from sidebyside import compare, record

K = 8


def version_1_pass(logits, pool, evaluator, members, weight):
    """The closure as learned_soup version 1 wrote it: the K-member sum inside the batch loop."""
    n_total = sum(weight(b) for b in evaluator.batches)
    total = 0.0
    for batch in evaluator.batches:
        alpha = torch.softmax(logits, 0)
        params = {name: sum(alpha[i] * members[i][j] for i in range(len(members))) for j, name in enumerate(pool.names)}
        loss = evaluator.batch_loss(pool.model, batch,
                                    forward=lambda **kw: functional_call(pool.model, params, args=(), kwargs=kw))
        loss = loss * (weight(batch) / n_total)
        loss.backward()
        total += float(loss.detach())
    return total


def test_learned_soup_pass_once_vs_per_batch(benchmark):
    module = sys.modules[get_method("learned_soup").fn.__module__]
    request = TrajectoryRequest(task="rt-polarity", model="minilm", seed=0)
    model = build_model(request)
    model.eval()
    gen = torch.Generator().manual_seed(0)
    base = model.state_dict()
    members = [{n: (t + 0.01 * torch.randn(t.shape, generator=gen) if t.is_floating_point() else t.clone())
                for n, t in base.items()} for _ in range(K)]
    pool = CheckpointPool(model, members)
    evaluator = build_evaluator(request, "val", "cpu")
    member_tensors = [pool.member_tensors(i) for i in range(K)]
    start = torch.randn(K, generator=gen) * 0.1

    def new():
        logits = start.clone().requires_grad_()
        return module.full_val_loss(logits, pool, evaluator, evaluator.batches), logits.grad

    def old():
        logits = start.clone().requires_grad_()
        return version_1_pass(logits, pool, evaluator, member_tensors, module._weight), logits.grad

    (loss_new, grad_new), (loss_old, grad_old) = new(), old()
    result = {}

    def run():
        result.update(compare(new, old, rounds=3, warmup=0))

    benchmark.pedantic(run, rounds=1, iterations=1)
    agreement = {"loss_rel_diff": abs(loss_new - loss_old) / abs(loss_old),
                 "grad_max_abs_diff": float((grad_new - grad_old).abs().max()),
                 "grad_max_abs": float(grad_old.abs().max())}
    val_examples = sum(module._weight(b) for b in evaluator.batches)
    out = record("learned_soup_speed", {**result, **agreement, "members": K, "val_examples": val_examples},
                 task="rt-polarity", model="minilm")
    print(f"\nlearned soup val pass: version 2 {result['ours_s']:.2f} s, version 1 {result['theirs_s']:.2f} s "
          f"-> {result['ratio']:.2f}x (CPU {result['cpu_ratio']:.2f}x); loss rel diff "
          f"{agreement['loss_rel_diff']:.1e}, gradient max diff {agreement['grad_max_abs_diff']:.1e} "
          f"of {agreement['grad_max_abs']:.1e}")
    assert agreement["loss_rel_diff"] < 1e-5 and agreement["grad_max_abs_diff"] <= 1e-3 * agreement["grad_max_abs"]
    assert out["benchmark"] == "learned_soup_speed"
