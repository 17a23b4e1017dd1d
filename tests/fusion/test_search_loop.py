"""The search loop: constant objectives left out, fallbacks counted, resume bit for bit, shared searches."""

import json

import pytest
import torch

from bomf.core.errors import BomfError
from bomf.fusion import get_method
from bomf.fusion.search import SearchState, member_evaluations

from toy_fusion import A, B, FAST, dist, make_objective, vector_objective

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tied_objective(**kw):
    """Every member (and every mixture) has accuracy 0, as when each member predicts the majority class."""
    b = torch.tensor(B)
    return make_objective(torch.eye(3).tolist(), lambda w: (0.0, float(((w - b) ** 2).sum())), **kw)


@pytest.mark.parametrize("method", ["bomf", "bomf_paper"])
def test_a_metric_tied_over_every_evaluation_is_left_out_and_the_loss_steers(method):
    obj, pool, _ = tied_objective()
    res = get_method(method).run(obj, pool, budget=12, seed=0, n_init=3, **FAST)
    info = res.info
    assert info["active_objectives"] == ["neg_loss"]
    assert set(info["fallbacks"]["reasons"]) <= {"repeat"} and len(info["bo_steps"]) == 9
    assert info["hypervolume"] == []  # one objective left: no hypervolume to speak of
    # The search goes on with the loss and gets close to the loss optimum.
    best = min(obj.history, key=lambda e: e.loss)
    assert dist(best.weights, B) < 0.15


def test_a_metric_tied_over_the_members_is_normalised_by_the_data_not_a_tiny_span():
    # Accuracy is equal at every member (all are equally far from the centre) but varies in between.
    u = torch.full((3,), 1 / 3)
    obj, pool, _ = make_objective(torch.eye(3).tolist(),
                                  lambda w: (-float(((w - u) ** 2).sum()), float(((w - torch.tensor(B)) ** 2).sum())))
    state = SearchState(obj, ("accuracy", "neg_loss"), member_evaluations(obj))
    assert state.active_names() == ("neg_loss",)
    for w in ([0.5, 0.5, 0.0], [0.2, 0.4, 0.4]):
        state.add(w, obj(w), "init")
    assert state.active_names() == ("accuracy", "neg_loss")
    Y, ref = state.normalised(state.active_names())
    # The tied members would give a span of 1e-9 and values of order 1e8; the data's range gives [0, 1].
    assert float(Y[:, 0].min()) == 0.0 and float(Y[:, 0].max()) == 1.0
    assert torch.isfinite(ref).all() and float(ref[0]) == pytest.approx(-0.1)


def test_a_search_whose_every_step_falls_back_is_an_error():
    obj, pool, _ = vector_objective(3, A, B)
    # The raw function, past the option checks (which refuse "two" up front): every step's
    # optimiser then fails, and the search refuses to return random search labelled bomf.
    fn = get_method("bomf").fn
    with pytest.raises(BomfError, match="every BO step of bomf fell back.*TypeError"):
        fn(obj, pool, 6, 0, n_init=3, num_restarts="two", raw_samples=32)


def test_a_search_whose_steps_only_repeat_known_points_is_not_an_error(monkeypatch):
    """A GP that keeps choosing a point already evaluated has converged, not failed: each repeat
    is recorded and replaced by a design point, and the search returns its result."""
    import bomf.fusion.builtin.bomf as bomf_module

    real = bomf_module.suggest

    def to_a_member(*args, **kwargs):  # every suggestion is member 0's corner, already evaluated
        sug = real(*args, **kwargs)
        sug.x[:] = 0.0
        sug.x[:, 0] = 1.0
        return sug

    monkeypatch.setattr(bomf_module, "suggest", to_a_member)
    obj, pool, _ = vector_objective(3, A, B)
    res = get_method("bomf").run(obj, pool, budget=6, seed=0, n_init=3, **FAST)
    assert obj.n_evaluations == 6 and res.info["bo_steps"]
    assert all(s["fallbacks"] == ["repeat"] for s in res.info["bo_steps"])


def test_fallbacks_are_counted_with_their_reason(monkeypatch):
    import bomf.fusion.builtin.bomf as bomf_module

    real, calls = bomf_module.suggest, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            kwargs["num_restarts"] = "two"  # the second step's optimiser fails
        return real(*args, **kwargs)

    monkeypatch.setattr(bomf_module, "suggest", flaky)
    obj, pool, _ = vector_objective(3, A, B)
    res = get_method("bomf").run(obj, pool, budget=8, seed=0, n_init=3, **FAST)
    fb = res.info["fallbacks"]
    assert fb["count"] >= 1 and any("TypeError" in why for why in fb["reasons"])
    assert [bool(s["fallbacks"]) for s in res.info["bo_steps"]][1] is True
    assert obj.n_evaluations == 8


def _journal_steps(folder):
    lines = (folder / "search.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[1:]]


@pytest.mark.parametrize("options", [dict(gp="batched", warm_start=True, space="cube_w"),
                                     dict(gp="list", warm_start=True, space="simplex")])
def test_a_killed_search_resumes_bit_for_bit_with_its_gp_states(tmp_path, options):
    ref_dir, dir_ = tmp_path / "ref", tmp_path / "killed"
    ref_obj, ref_pool, _ = vector_objective(3, A, B, journal=ref_dir / "evaluations.jsonl")
    reference = get_method("bomf").run(ref_obj, ref_pool, budget=10, seed=1, n_init=3, **FAST, **options)

    # Killed during the 6th evaluation: a BO point whose step is journaled but not evaluated.
    obj, pool, ev = vector_objective(3, A, B, journal=dir_ / "evaluations.jsonl", fail_at=6)
    with pytest.raises(KeyboardInterrupt):
        get_method("bomf").run(obj, pool, budget=10, seed=1, n_init=3, **FAST, **options)
    assert len(_journal_steps(dir_)) == 3  # steps of evaluations 4, 5, 6
    obj2, pool2, ev2 = vector_objective(3, A, B, journal=dir_ / "evaluations.jsonl")
    resumed = get_method("bomf").run(obj2, pool2, budget=10, seed=1, n_init=3, **FAST, **options)
    assert ev2.calls == 5 and obj2.n_evaluations == 10
    assert resumed.weights == reference.weights
    assert [e.weights for e in obj2.history] == [e.weights for e in ref_obj.history]
    # The GP states (warm starts) of every step equal the uninterrupted run's, bit for bit.
    assert [s["gp"] for s in _journal_steps(dir_)] == [s["gp"] for s in _journal_steps(ref_dir)]
    # Replayed BO time is accounted, not dropped.
    assert resumed.info["replayed"]["steps"] == 3 and resumed.info["replayed"]["bo_seconds"] > 0
    assert resumed.info["bo_seconds"] >= resumed.info["replayed"]["bo_seconds"]


def test_a_search_journal_of_another_run_is_refused(tmp_path):
    obj, pool, _ = vector_objective(3, A, B, journal=tmp_path / "evaluations.jsonl", identity={"run": 1})
    get_method("bomf").run(obj, pool, budget=4, seed=0, n_init=3, **FAST)
    (tmp_path / "evaluations.jsonl").unlink()
    obj2, pool2, _ = vector_objective(3, A, B, journal=tmp_path / "evaluations.jsonl", identity={"run": 2})
    with pytest.raises(BomfError, match="belongs to another fusion run"):
        get_method("bomf").run(obj2, pool2, budget=4, seed=0, n_init=3, **FAST)


def test_variants_that_differ_in_the_pick_run_the_same_search():
    runs = {}
    for name in ("bomf", "bomf_posterior", "bomf_loss_guard"):
        obj, pool, _ = vector_objective(3, A, B)
        res = get_method(name).run(obj, pool, budget=8, seed=2, n_init=3, **FAST)
        runs[name] = ([e.weights for e in obj.history], res)
    assert runs["bomf"][0] == runs["bomf_posterior"][0] == runs["bomf_loss_guard"][0]
    assert runs["bomf_posterior"][1].info["pick_rule"] == "posterior_mean"
    assert runs["bomf_loss_guard"][1].info["pick_rule"] == "loss_guard"


def test_bomf_paper_is_the_papers_search_and_every_search_records_its_selection():
    obj, pool, _ = vector_objective(3, A, B)
    res = get_method("bomf_paper").run(obj, pool, budget=6, seed=0, n_init=3, **FAST)
    opts = res.info["options"]
    assert (opts["space"], opts["gp"], opts["warm_start"], opts["acquisition"], opts["objectives"]) == \
        ("cube", "list", False, "nehvi", "all")
    for name in ("bomf_paper", "random_search"):
        obj, pool, _ = vector_objective(3, A, B)
        sel = get_method(name).run(obj, pool, 6, 0, **({"n_init": 3, **FAST} if name != "random_search" else {})).info
        sel = sel["selection"]
        assert sel["val"] - sel["posterior_mean"] == pytest.approx(sel["optimism"])


def test_the_soup_start_begins_with_the_members_best_averages():
    obj, pool, _ = vector_objective(3, A, B)
    get_method("bomf_soup_start").run(obj, pool, budget=4, seed=0, n_init=2, **FAST)
    # Members by accuracy (closest to A first): 0, 1, 2 -> soups of {0, 1} and {0, 1, 2}.
    assert obj.history[0].weights == [0.5, 0.5, 0.0]
    assert obj.history[1].weights == pytest.approx([1 / 3] * 3)


def test_batch_steps_choose_q_points_and_spend_the_budget_exactly(tmp_path):
    obj, pool, _ = vector_objective(3, A, B, journal=tmp_path / "evaluations.jsonl")
    res = get_method("bomf").run(obj, pool, budget=9, seed=0, n_init=3, q=2, **FAST)
    assert obj.n_evaluations == 9
    steps = _journal_steps(tmp_path)
    assert [len(s["x"]) for s in steps] == [2, 2, 2] and len(res.info["bo_steps"]) == 3
    # The two points of a step differ (the second is chosen with the first pending).
    assert all(s["x"][0] != s["x"][1] for s in steps)


def test_selection_optimism_is_estimated_with_binomial_noise_when_the_val_size_is_known():
    from bomf.fusion.objective import Evaluation
    from bomf.fusion.search import selection_info

    g = torch.Generator().manual_seed(0)
    E = -torch.log(torch.rand(30, 3, generator=g))
    W = E / E.sum(-1, keepdim=True)  # uniform on the simplex, seeded
    truth = 0.85 - 0.1 * ((W - torch.tensor(A)) ** 2).sum(-1)
    # Accuracy on 200 examples: about 2.8 points of noise per evaluation.
    val = truth + torch.randn(30, generator=g) * (0.8 * 0.2 / 200) ** 0.5
    evs = [Evaluation(weights=w.tolist(), loss=0.5, metrics={"accuracy": float(v)}) for w, v in zip(W, val)]
    chosen = max(evs, key=lambda e: e.metrics["accuracy"])
    known = selection_info(evs, chosen, "accuracy", n_examples=200)
    learned = selection_info(evs, chosen, "accuracy")
    assert known["estimator"] == "gp_binomial_noise" and learned["estimator"] == "gp_learned_noise"
    assert known["val"] == chosen.metrics["accuracy"]
    # The lucky best observation overstates its truth; the posterior mean there much less so.
    best = max(range(30), key=lambda i: float(val[i]))
    for est in (known, learned):
        assert est["optimism"] > 0.01
        assert abs(est["posterior_mean"] - float(truth[best])) < 0.5 * abs(est["val"] - float(truth[best]))
