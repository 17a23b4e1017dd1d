"""BOMF and its ablations on synthetic fusion problems with known optima; resume; determinism."""

import pytest

from bomf.fusion import get_method

from toy_fusion import A, B, FAST, dist, vector_objective


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_bomf_front_spans_the_tradeoff_and_its_pick_follows_the_rule():
    obj, pool, _ = vector_objective(3, A, B)
    res = get_method("bomf").run(obj, pool, budget=14, seed=0, **FAST)
    assert obj.n_evaluations == 14
    assert res.info["pick_rule"] == "pareto_best_metric"
    # The pick is the best-accuracy point of the front: close to A, far better than any member.
    assert dist(res.weights, A) < 0.2
    assert res.evaluation.metrics["accuracy"] > max(e.metrics["accuracy"] for e in obj.prior)
    # Hypervolume is recorded after every evaluation and never decreases.
    hv = res.info["hypervolume"]
    assert len(hv) == 14 and all(b >= a - 1e-12 for a, b in zip(hv, hv[1:])) and hv[-1] > hv[0]
    front = res.info["pareto_front"]
    assert len(front) >= 2
    assert min(dist(f["weights"], B) for f in front) < 0.3


def test_bomf_best_loss_rule_picks_the_low_loss_end():
    obj, pool, _ = vector_objective(3, A, B)
    res = get_method("bomf").run(obj, pool, budget=14, seed=0, pick_rule="best_loss", **FAST)
    assert dist(res.weights, B) < 0.2


def test_ablations_optimise_their_own_objective():
    obj, pool, _ = vector_objective(3, A, B)
    loss_only = get_method("bo_loss").run(obj, pool, budget=12, seed=0, **FAST)
    obj2, pool2, _ = vector_objective(3, A, B)
    metric_only = get_method("bo_metric").run(obj2, pool2, budget=12, seed=0, **FAST)
    assert dist(loss_only.weights, B) < 0.2 and dist(metric_only.weights, A) < 0.2


def test_same_seed_same_weights():
    runs = []
    for _ in range(2):
        obj, pool, _ = vector_objective(3, A, B)
        runs.append(get_method("bomf").run(obj, pool, budget=9, seed=4, **FAST).weights)
    assert runs[0] == runs[1]


def test_killed_run_resumes_without_repeating_an_evaluation(tmp_path):
    journal = tmp_path / "evaluations.jsonl"
    ref_obj, ref_pool, _ = vector_objective(3, A, B)
    reference = get_method("bomf").run(ref_obj, ref_pool, budget=10, seed=1, **FAST)

    obj, pool, ev = vector_objective(3, A, B, journal=journal, fail_at=7)
    with pytest.raises(KeyboardInterrupt):
        get_method("bomf").run(obj, pool, budget=10, seed=1, **FAST)
    assert ev.calls == 7 and obj.n_evaluations == 6  # the 7th was killed before it was recorded

    obj2, pool2, ev2 = vector_objective(3, A, B, journal=journal)
    resumed = get_method("bomf").run(obj2, pool2, budget=10, seed=1, **FAST)
    assert ev2.calls == 4 and obj2.n_computed == 4 and obj2.n_evaluations == 10
    assert resumed.weights == reference.weights
    assert [e.weights for e in obj2.history] == [e.weights for e in ref_obj.history]
