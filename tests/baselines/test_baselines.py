"""Every baseline against a hand-computed answer on tiny pools."""

import pytest
import torch
from torch.optim.swa_utils import AveragedModel

from bomf.training.checkpoint import save_state
from bomf.core.errors import BomfError
from bomf.fusion import METHODS, get_method

from toy_fusion import make_objective

PEAK = 1.4


def peaked(w):
    v = float(w)
    return -(v - PEAK) ** 2, (v - 1.0) ** 2


def reference_greedy(values, f):
    """The model-soups rule written out plainly."""
    scores = [f(v)[0] for v in values]
    losses = [f(v)[1] for v in values]
    order = sorted(range(len(values)), key=lambda k: (-scores[k], losses[k], k))
    kept = [order[0]]
    best = scores[order[0]]
    for c in order[1:]:
        trial = kept + [c]
        s = f(sum(values[i] for i in trial) / len(trial))[0]
        if s > best:
            kept, best = trial, s
    return sorted(kept)


def test_uniform_soup_is_the_mean():
    obj, pool, _ = make_objective([[0.0, 3.0], [1.0, 5.0], [2.0, 7.0]], lambda w: (0.0, 0.0))
    res = get_method("uniform_soup").run(obj, pool, budget=0, seed=0)
    assert res.weights == pytest.approx([1 / 3] * 3)
    pool.fuse(res.weights)
    assert torch.allclose(pool.model.weight, torch.tensor([[1.0, 5.0]]))


def test_last_and_best_pick_the_right_member():
    obj, pool, _ = make_objective([[0.0], [1.5], [1.0], [3.0]], peaked)
    assert get_method("last").run(obj, pool, 0, 0).weights == [0, 0, 0, 1.0]
    best = get_method("best").run(obj, pool, 0, 0)
    assert best.weights == [0, 1.0, 0, 0] and best.info["member"] == 1


@pytest.mark.parametrize("values, expected", [([0.0, 1.0, 2.0, 3.0], [1, 2]), ([0.0, 5.0, 10.0], [1])])
def test_greedy_soup_accepts_what_the_reference_rule_accepts(values, expected):
    f = peaked if expected != [1] else (lambda w: (-(float(w) - 5.0) ** 2, float(w) ** 2))
    assert reference_greedy(values, f) == expected
    obj, pool, _ = make_objective([[v] for v in values], f)
    res = get_method("greedy_soup").run(obj, pool, 0, 0)
    assert res.info["accepted"] == expected
    assert res.weights == pytest.approx([1 / len(expected) if i in expected else 0.0 for i in range(len(values))])
    assert obj.n_evaluations == len(values) - 1  # one pass, one evaluation per candidate


def test_greedy_soup_rejects_a_tie():
    obj, pool, _ = make_objective([[1.0], [1.0]], lambda w: (0.5, 0.1))
    assert get_method("greedy_soup").run(obj, pool, 0, 0).info["accepted"] == [0]


def test_swa_baseline_evaluates_the_stored_average(tmp_path):
    states = [{"weight": torch.tensor([[float(v)]])} for v in (1.0, 2.0, 6.0)]
    model = torch.nn.Linear(1, 1, bias=False)
    avg = AveragedModel(model)
    for s in states:
        model.load_state_dict(s)
        avg.update_parameters(model)
    save_state(tmp_path / "swa.safetensors", avg.module.state_dict())
    obj, pool, _ = make_objective([[1.0], [2.0], [6.0]], lambda w: (float(w), 0.0))
    pool.swa_file = tmp_path / "swa.safetensors"
    res = get_method("swa").run(obj, pool, 0, 0)
    assert res.state_source == "swa" and res.evaluation.metrics["accuracy"] == pytest.approx(3.0)


def test_random_search_spends_its_budget_and_is_seeded():
    def run(seed):
        obj, pool, _ = make_objective([[0.0], [1.0], [2.0]], peaked)
        res = get_method("random_search").run(obj, pool, budget=7, seed=seed)
        return obj.n_evaluations, res.weights, res.evaluation.metrics["accuracy"]

    n, w, acc = run(0)
    assert n == 7 and run(0) == (n, w, acc) and run(1)[1] != w
    assert acc >= peaked(1.0)[0]  # never worse than the best member, which is a candidate


def test_registry_lists_every_method_with_a_description():
    for name in ("bomf", "bo_loss", "bo_metric", "last", "best", "swa", "uniform_soup", "greedy_soup", "random_search"):
        assert name in METHODS and get_method(name).description
    with pytest.raises(BomfError, match="unknown method 'nope'"):
        get_method("nope")
    with pytest.raises(BomfError, match="has no option 'bogus'"):
        get_method("bomf").check_options({"bogus": 1})


class _BatchedLeastSquares:
    """A val split in batches for gradient-based soups: loss = mean squared error of the live
    linear model; its minimiser over the simplex is known by construction."""

    split_name = "val"

    def __init__(self, x, y, batch_size):
        self.batches = [{"input": x[i:i + batch_size], "labels": y[i:i + batch_size]} for i in range(0, len(y), batch_size)]

    def batch_loss(self, model, batch, forward=None):
        out = (forward or model)(input=batch["input"]).squeeze(-1)
        return ((out - batch["labels"]) ** 2).mean()

    def __call__(self, model):
        from bomf.evaluation.base import EvalResult

        with torch.no_grad():
            n = sum(len(b["labels"]) for b in self.batches)
            loss = sum(float(self.batch_loss(model, b)) * len(b["labels"]) for b in self.batches) / n
        return EvalResult(loss=loss, metrics={"accuracy": -loss}, n=n)


def test_learned_soup_converges_to_the_known_loss_minimiser():
    from bomf.fusion import CheckpointPool, FusionObjective

    gen = torch.Generator().manual_seed(0)
    k, d, n = 4, 6, 300
    members = torch.randn(k, d, generator=gen)
    target = torch.tensor([0.5, 0.3, 0.15, 0.05])  # inside the simplex: softmax can reach it
    x = torch.randn(n, d, generator=gen)
    y = x @ (target @ members)  # noiseless: the loss is 0 exactly at the target weights
    pool = CheckpointPool(torch.nn.Linear(d, 1, bias=False), [{"weight": m.reshape(1, d)} for m in members])
    obj = FusionObjective(pool, _BatchedLeastSquares(x, y, batch_size=64), ("accuracy",), "accuracy",
                          identity={"toy": "least squares"})
    res = get_method("learned_soup").run(obj, pool, budget=0, seed=0)
    assert res.info["stop"] == "plateau" and res.info["converged"]
    assert res.weights == pytest.approx(target.tolist(), abs=0.01)  # the old 8-step Adam stayed near uniform
    assert res.info["val_passes"] >= res.info["steps"] and obj.n_evaluations == 1


def test_learned_soups_gradient_is_the_full_val_losss():
    # full_val_loss builds the fused tensors once per pass and carries dL/dtheta to the logits at
    # the end; the gradient must equal differentiating the plain per-batch formula (version 1).
    import sys

    from torch.func import functional_call

    from bomf.fusion import CheckpointPool

    # The module the registry loaded (bomf.baselines.learned_soup when installed, else baselines.*).
    full_val_loss = sys.modules[get_method("learned_soup").fn.__module__].full_val_loss

    gen = torch.Generator().manual_seed(1)
    k, d, n = 5, 4, 70
    model = torch.nn.Linear(d, 1)  # two fused tensors: weight and bias
    members = [{"weight": torch.randn(1, d, generator=gen), "bias": torch.randn(1, generator=gen)} for _ in range(k)]
    pool = CheckpointPool(model, members)
    x, y = torch.randn(n, d, generator=gen), torch.randn(n, generator=gen)
    ev = _BatchedLeastSquares(x, y, batch_size=32)  # batches of 32, 32, 6: weighted by size

    logits = torch.randn(k, generator=gen).requires_grad_()
    loss = full_val_loss(logits, pool, ev, ev.batches)

    ref_logits = logits.detach().clone().requires_grad_()
    ref = 0.0
    for b in ev.batches:
        alpha = torch.softmax(ref_logits, 0)
        params = {name: sum(alpha[i] * members[i][name] for i in range(k)) for name in ("weight", "bias")}
        out = functional_call(model, params, args=(), kwargs={"input": b["input"]}).squeeze(-1)
        part = ((out - b["labels"]) ** 2).mean() * len(b["labels"]) / n
        part.backward()
        ref += float(part)
    assert loss == pytest.approx(ref, rel=1e-6)
    assert torch.allclose(logits.grad, ref_logits.grad, rtol=1e-5, atol=1e-7)
    assert float(logits.grad.abs().max()) > 1e-3  # not vacuous: a real gradient
