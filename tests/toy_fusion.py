"""Toy fusion problems with known answers: members are points, the 'model' is their weighted sum.

Member k of a ``vector_pool`` is the one-hot vector e_k, so the fused weight vector of the live
model equals the fusion weights w exactly, and any function of w is a synthetic objective.
"""

from __future__ import annotations

import torch

from bomf.evaluation.base import EvalResult
from bomf.fusion import CheckpointPool, Evaluation, FusionObjective


class ToyEvaluator:
    split_name = "val"

    def __init__(self, fn, fail_at: int | None = None):
        self.fn = fn  # live weight tensor -> (accuracy, loss)
        self.calls = 0
        self.fail_at = fail_at

    def __call__(self, model):
        self.calls += 1
        if self.fail_at is not None and self.calls == self.fail_at:
            raise KeyboardInterrupt("simulated kill")
        acc, loss = self.fn(model.weight.detach().flatten().clone())
        return EvalResult(loss=float(loss), metrics={"accuracy": float(acc)}, n=1)


def make_objective(member_values, fn, prior=True, journal=None, fail_at=None, identity=None):
    """Members are the rows of ``member_values`` (each a 1-D weight vector)."""
    values = [torch.as_tensor(v, dtype=torch.float32).reshape(1, -1) for v in member_values]
    live = torch.nn.Linear(values[0].shape[1], 1, bias=False)
    pool = CheckpointPool(live, [{"weight": v} for v in values])
    evaluator = ToyEvaluator(fn, fail_at)
    k = len(values)
    priors = []
    if prior:
        for i, v in enumerate(values):
            acc, loss = fn(v.flatten())
            priors.append(Evaluation(weights=[1.0 if j == i else 0.0 for j in range(k)], loss=float(loss),
                                     metrics={"accuracy": float(acc)}, source="member", label=f"member {i}"))
    obj = FusionObjective(pool, evaluator, ("accuracy",), "accuracy", prior=priors, journal=journal,
                          identity=identity or {"toy": True})
    return obj, pool, evaluator


def vector_objective(k, a, b, **kw):
    """Accuracy peaks at w = a, loss is lowest at w = b: the Pareto set is the segment [a, b]."""
    a, b = torch.tensor(a), torch.tensor(b)

    def fn(w):
        return -float(((w - a) ** 2).sum()), float(((w - b) ** 2).sum())

    return make_objective(torch.eye(k).tolist(), fn, **kw)


# A three-member landscape whose metric and loss disagree (the misaligned case), and small BO
# settings, shared by the search-loop and BOMF-method tests.
A = [0.6, 0.3, 0.1]  # accuracy peaks here
B = [0.1, 0.3, 0.6]  # loss is lowest here
FAST = dict(num_restarts=2, raw_samples=64)


def dist(w, target) -> float:
    """Euclidean distance between two weight vectors."""
    return float(torch.tensor(w).sub(torch.tensor(target)).norm())
