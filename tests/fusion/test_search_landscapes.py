"""The synthetic landscapes of the search test bed (benchmarks/landscapes.py) have the optima they claim."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from landscapes import KINDS, make_landscape  # noqa: E402


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("k,seed", [(3, 0), (5, 11), (8, 3), (12, 7)])
def test_no_point_of_the_simplex_beats_the_claimed_optimum(kind, k, seed):
    land = make_landscape(kind, k=k, seed=seed)
    opt = np.array(land.optimum)
    assert opt.min() >= 0 and abs(opt.sum() - 1) < 1e-12
    assert land.regret(land.optimum) == pytest.approx(0.0, abs=1e-12)

    def neg(w):
        return -land.true_primary(np.clip(w, 0, None) / max(np.clip(w, 0, None).sum(), 1e-12))

    rng = np.random.default_rng(seed)
    starts = [np.full(k, 1 / k), *np.eye(k)] + list(rng.dirichlet(np.ones(k), 20)) + list(rng.dirichlet(np.ones(k) * 0.3, 20))
    best = max(-minimize(neg, s, method="SLSQP", bounds=[(0, 1)] * k,
                         constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}]).fun for s in starts)
    assert best <= land.best_value + 1e-9
    # Random points of the simplex are all worse, some by a lot: the landscape is not flat.
    regrets = [land.regret(w) for w in rng.dirichlet(np.ones(k), 200)]
    assert min(regrets) > 0 and max(regrets) > 0.005


def test_kinds_have_their_shapes():
    k = 8
    for seed in range(3):
        edge = make_landscape("edge", k, seed)
        assert [i for i, v in enumerate(edge.optimum) if v > 0] == [k - 2, k - 1]
        mis = make_landscape("misaligned", k, seed)
        assert sum(v > 0 for v in mis.optimum) == 2
        # The loss is lowest at the uniform soup, where the metric is clearly below its peak.
        u = [1 / k] * k
        assert float(mis.true_loss(u)[0]) < float(mis.true_loss(mis.optimum)[0])
        assert mis.regret(u) > 0.002
        inner = make_landscape("interior", k, seed)
        assert min(inner.optimum) > 0
        three = make_landscape("three_objectives", k, seed)
        assert three.metric_names == ("accuracy", "f1")


def test_a_noisy_val_metric_is_quantised_and_unbiased():
    land = make_landscape("noisy", 5, seed=2)
    w = torch.tensor([[0.1, 0.2, 0.3, 0.2, 0.2]], dtype=torch.double)
    _, val = land.observe(w)
    n = 500
    assert float(val["accuracy"][0] * n) == pytest.approx(round(float(val["accuracy"][0] * n)))
    # With a very large val set, the val accuracy is the truth (P(right) = f(w) by construction).
    big = make_landscape("noisy", 5, seed=2, n_val=200_000)
    _, val_big = big.observe(w)
    assert float(val_big["accuracy"][0]) == pytest.approx(big.true_primary(w[0].tolist()), abs=0.004)


def test_the_landscape_objective_is_a_fusion_objective_with_member_priors():
    land = make_landscape("interior", 4, seed=0)
    obj, pool = land.objective()
    assert len(obj.prior) == 4 and obj.n_evaluations == 0
    ev = obj([0.25] * 4)
    loss, metrics = land.observe([0.25] * 4)
    assert ev.loss == pytest.approx(float(loss[0])) and ev.metrics["accuracy"] == pytest.approx(float(metrics["accuracy"][0]))
    # learned soup's gradient path: the evaluator's batch loss is differentiable in the fused weights.
    w = torch.full((4,), 0.25, dtype=torch.double, requires_grad=True)
    live = pool.model
    out = obj.evaluator.batch_loss(live, obj.evaluator.batches[0],
                                   forward=lambda **kw: torch.nn.functional.linear(kw["input"], w.reshape(1, -1)))
    out.backward()
    assert torch.isfinite(w.grad).all() and float(w.grad.abs().sum()) > 0


def test_landscapes_are_deterministic_in_kind_k_and_seed():
    a, b, c = make_landscape("noisy", 6, 1), make_landscape("noisy", 6, 1), make_landscape("noisy", 6, 2)
    w = [1 / 6] * 6
    assert a.description == b.description and a.observe(w)[1]["accuracy"] == b.observe(w)[1]["accuracy"]
    assert a.optimum != c.optimum
    with pytest.raises(ValueError, match="unknown landscape"):
        make_landscape("flat", 4, 0)


@pytest.mark.parametrize("method", ["last", "best", "uniform_soup", "greedy_soup", "learned_soup"])
def test_every_weight_producing_baseline_runs_on_a_landscape(method):
    """The test bed runs these beside the searches; learned soup's batches there have no labels
    (it failed on all 30 budget-50 runs with KeyError 'labels' before _weight counted the input)."""
    import search_bench

    row = search_bench.run_one("interior", 5, 0, 6, method)
    assert row["error"] is None, row["error"]
    assert len(row["weights"]) == 5 and abs(sum(row["weights"]) - 1) < 1e-6 and row["regret"] >= 0


def test_resume_keeps_finished_rows_and_reruns_the_ones_that_failed(tmp_path):
    import json

    import search_bench

    args = ["--kinds", "edge", "--k", "4", "--seeds", "1", "--budgets", "4", "--workers", "1",
            "--methods", "best", "uniform_soup", "--out", str(tmp_path / "q"), "--quiet"]
    first = search_bench.main(args)["rows"]
    data = json.loads((tmp_path / "q.json").read_text())
    broken = next(r for r in data["rows"] if r["method"] == "uniform_soup")
    for key in ("regret", "weights"):
        broken.pop(key)
    broken["error"], data["rows"][0]["wall_s"] = "KeyError: 'labels'", 123.0  # a marker on the kept row
    (tmp_path / "q.json").write_text(json.dumps(data))
    threads = torch.get_num_threads()
    out = search_bench.main(args + ["--resume"])
    assert torch.get_num_threads() == threads  # in-process workers leave the thread count alone
    rows = {r["method"]: r for r in out["rows"]}
    assert rows["uniform_soup"]["error"] is None
    assert rows["uniform_soup"]["regret"] == next(r for r in first if r["method"] == "uniform_soup")["regret"]
    assert rows[data["rows"][0]["method"]]["wall_s"] == 123.0  # kept, not recomputed
    assert out["config"]["resumed"] == {"rows_kept": 1, "errored_rows_rerun": 1}
    assert "1 rows that had ended in an error computed again" in (tmp_path / "q.md").read_text()
