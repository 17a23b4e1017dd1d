"""Fusion cells end to end on a tiny real trajectory: every method, records, caching, test once."""

import json

import pytest

from bomf.fusion import METHODS
from bomf.fusion.pipeline import FusionRequest, fusion_folder, run_fusion

from helpers import tiny_request

FAST = (("num_restarts", 2), ("raw_samples", 32))


@pytest.fixture(scope="module")
def traj_request():
    return tiny_request(seed=0, num_members=4, epochs=2)


def _run(traj_request, method, budget=6, options=()):
    return run_fusion(FusionRequest(trajectory=traj_request, method=method, budget=budget, options=options), device="cpu")


@pytest.mark.parametrize("method", sorted(METHODS.names()))
def test_every_method_produces_a_complete_record(traj_request, method):
    options = FAST if method in ("bomf", "bo_loss", "bo_metric") else ()
    rec = _run(traj_request, method, options=options)
    assert rec["method"] == method and rec["task"] == "rt-polarity"
    assert set(rec["test"]["metrics"]) == {"accuracy", "f1"} and rec["test"]["n"] == 48
    assert rec["costs"]["fused_evaluations"] <= max(6, 4) and rec["git_commit"] is not None
    if METHODS.get(method).search:
        assert rec["costs"]["fused_evaluations"] == 6 and rec["costs"]["budget"] == 6
    if rec["weights"] is not None:
        assert len(rec["weights"]) == 4 and abs(sum(rec["weights"]) - 1) < 1e-9
    assert (fusion_folder(FusionRequest(trajectory=traj_request, method=method, budget=6, options=options))
            / "record.json").exists()


def test_identical_request_reuses_the_record(traj_request, monkeypatch):
    first = _run(traj_request, "uniform_soup")
    import bomf.fusion.pipeline as P

    monkeypatch.setattr(P, "train_trajectory", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    assert _run(traj_request, "uniform_soup") == first


def test_learned_soup_minimises_the_full_val_loss_until_it_stops_improving(traj_request):
    uniform = _run(traj_request, "uniform_soup")
    learned = _run(traj_request, "learned_soup", options=(("max_steps", 60),))
    info = learned["info"]
    # tiny-bert's members are nearly identical (flat at float32 precision): never worse than
    # uniform, where it starts; tests/baselines checks it finds a known minimiser
    assert learned["val"]["loss"] <= uniform["val"]["loss"] + 1e-6
    # converged: stopped on the plateau rule, before the cap, with every val pass counted
    assert info["stop"] == "plateau" and info["converged"] and info["steps"] < 60
    assert info["val_passes"] >= info["steps"]
    # the reported val loss is the loss of the weights it kept: the best of its trace
    assert abs(learned["val"]["loss"] - min(info["val_losses"])) < 1e-4


def test_smac_really_drives_smac_bo(traj_request):
    rec = _run(traj_request, "smac_bo")
    # SMAC's output lives in the fusion cell's folder; the record names it relative to that folder.
    folder = fusion_folder(FusionRequest(trajectory=traj_request, method="smac_bo", budget=6)) / rec["info"]["smac_output"]
    histories = list(folder.rglob("runhistory.json"))
    assert histories, "SMAC wrote no run history"
    data = json.loads(histories[0].read_text())
    # SMAC's own history holds every configuration it was told about: members + the budget.
    assert len(data["data"]) == 6 + 4 == rec["info"]["smac_trials"]


def test_bomf_record_carries_front_hypervolume_and_rule(traj_request):
    rec = _run(traj_request, "bomf", options=FAST)
    info = rec["info"]
    # bomf: the primary metric and the loss (the paper's two objectives); bomf_paper: every metric.
    assert info["pick_rule"] == "pareto_best_metric" and info["objective_names"] == ["accuracy", "neg_loss"]
    assert _run(traj_request, "bomf_paper", options=FAST)["info"]["objective_names"] == ["accuracy", "f1", "neg_loss"]
    # A hypervolume after each evaluation where two objectives vary; none where the tiny model's
    # metric is constant (then the loss alone steers, and the record says which were active).
    varying = len(info["active_objectives"]) > 1
    assert len(info["hypervolume"]) == (6 if varying else 0) and info["pareto_front"]
    assert len(rec["history"]) == 6


def test_a_resumed_cell_counts_the_replayed_evaluations_cost(traj_request):
    request = FusionRequest(trajectory=traj_request, method="random_search", budget=5)
    first = run_fusion(request, device="cpu")
    (fusion_folder(request) / "record.json").unlink()  # as if killed after the last evaluation
    resumed = run_fusion(request, device="cpu")
    assert resumed["costs"]["computed_evaluations"] == 0 and resumed["costs"]["replayed_evaluations"] == 5
    journal_seconds = sum(h["seconds"] for h in first["history"])
    assert resumed["costs"]["eval_seconds"] == pytest.approx(journal_seconds)
    assert resumed["costs"]["method_seconds"] >= journal_seconds
    assert resumed["weights"] == first["weights"] and resumed["test"] == first["test"]


SMALL = {"num_restarts": 2, "raw_samples": 32, "epochs": 1}


def guard_the_test_split(monkeypatch, spec):
    """Run ``spec`` through the pipeline with the test split out of reach while it runs: calling
    the test evaluator, loading a task's splits, or building a test evaluator raises (and is
    noted in ``state["blocked"]``). Returns the state: test evaluations counted after the method."""
    from dataclasses import replace

    import bomf.evaluation.factory as factory
    import bomf.fusion.pipeline as P
    import bomf.training.build as build
    from bomf.core.errors import BomfError
    from bomf.fusion import FusionObjective
    from bomf.tasks.base import Task

    state = {"in_method": False, "test_calls": 0, "blocked": []}

    def guard(what):
        if state["in_method"]:
            state["blocked"].append(what)
            raise AssertionError(f"method {spec.name} reached {what}")

    real_prepare = P.prepare_context

    def prepare(*args, **kwargs):
        ctx = real_prepare(*args, **kwargs)
        with pytest.raises(BomfError, match="val split"):  # the objective refuses the test evaluator
            FusionObjective(ctx.pool, ctx.test, ("accuracy",), "accuracy")
        real_test = ctx.test

        def test_evaluator(model, **kw):
            guard("the test evaluator")
            state["test_calls"] += 1
            return real_test(model, **kw)

        ctx.test = test_evaluator
        return ctx

    def method_fn(*args, **kwargs):
        state["in_method"] = True
        try:
            return spec.fn(*args, **kwargs)
        finally:
            state["in_method"] = False

    def guarded(module, name, split_arg):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            split = kwargs.get("split_name", args[split_arg] if len(args) > split_arg else None)
            if split == "test":
                guard(f"{name}(test)")
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    real_load = Task.load_splits

    def load_splits(self, *args, **kwargs):
        guard("Task.load_splits")
        return real_load(self, *args, **kwargs)

    monkeypatch.setattr(P, "prepare_context", prepare)
    monkeypatch.setattr(P, "get_method", lambda name: replace(spec, fn=method_fn))
    monkeypatch.setattr(Task, "load_splits", load_splits)
    guarded(build, "build_evaluator", 1)
    guarded(P, "build_evaluator", 1)
    guarded(factory, "make_evaluator", 7)
    return state


@pytest.mark.parametrize("method", sorted(METHODS.names()))
def test_no_method_can_reach_the_test_split(traj_request, method, monkeypatch):
    """While a method runs, the test split is out of reach; the pipeline evaluates the test
    split exactly once, after the method has returned."""
    spec = METHODS.get(method)
    state = guard_the_test_split(monkeypatch, spec)
    options = tuple(sorted((k, v) for k, v in SMALL.items() if k in spec.options))
    rec = run_fusion(FusionRequest(trajectory=traj_request, method=method, budget=4, seed=1, options=options),
                     device="cpu")
    assert state["blocked"] == [] and state["test_calls"] == 1
    assert rec["test"]["n"] == 48 and rec["method_seed"] == 1


def test_the_guard_stops_a_method_that_reaches_for_the_test_split(traj_request, monkeypatch):
    """The guard is not vacuous: a method that loads the task's splits to look at test is stopped."""
    from bomf.fusion.methods import MethodSpec
    from bomf.tasks import get_task

    def peeking(objective, pool, budget, seed):
        get_task("rt-polarity").load_splits()  # would give it the test labels
        return None

    state = guard_the_test_split(monkeypatch, MethodSpec("uniform_soup", peeking, "peeks at test", False, {}))
    with pytest.raises(AssertionError, match="reached Task.load_splits"):
        run_fusion(FusionRequest(trajectory=traj_request, method="uniform_soup", seed=2), device="cpu")
    assert state["blocked"] == ["Task.load_splits"] and state["test_calls"] == 0


def test_the_fusion_key_holds_effective_option_values(traj_request, monkeypatch):
    """Issue 13: the key held only the options a suite set, so a later change of a default kept
    serving records made with the old one. Now: a default and its explicit value give one key,
    and a changed default gives another."""
    from dataclasses import replace

    from bomf.fusion import methods as M

    implicit = FusionRequest(trajectory=traj_request, method="bomf_paper", budget=6)
    explicit = FusionRequest(trajectory=traj_request, method="bomf_paper", budget=6, options=(("num_restarts", 10),))
    assert implicit.key() == explicit.key()
    options = implicit.identity()["options"]
    assert options == {"n_init": None, "pick_rule": "pareto_best_metric", "objectives": "all", "num_restarts": 10,
                       "raw_samples": 512, "margin": 0.1}
    spec = M.METHODS.get("bomf_paper")
    changed = {**spec.options, "num_restarts": replace(spec.options["num_restarts"], default=20)}
    monkeypatch.setitem(M.METHODS._items, "bomf_paper", replace(spec, options=changed))
    assert implicit.key() != explicit.key() == FusionRequest(trajectory=traj_request, method="bomf_paper", budget=6,
                                                             options=(("num_restarts", 10),)).key()


def test_a_methods_own_version_is_in_its_key_and_moves_only_its_cells(traj_request, monkeypatch):
    from dataclasses import replace

    from bomf.fusion import methods as M

    soup = FusionRequest(trajectory=traj_request, method="uniform_soup")
    before = soup.key()
    assert "method_version" not in soup.identity()  # version 1: keys made before versions stay valid
    assert FusionRequest(trajectory=traj_request, method="learned_soup").identity()["method_version"] == 2
    other = FusionRequest(trajectory=traj_request, method="last").key()
    spec = M.METHODS.get("uniform_soup")
    monkeypatch.setitem(M.METHODS._items, "uniform_soup", replace(spec, version=2))
    assert soup.key() != before and FusionRequest(trajectory=traj_request, method="last").key() == other
    with pytest.raises(M.BomfError, match="version must be a positive integer"):
        M.register_method("v0_method", search=False, version=0)(lambda objective, pool, budget, seed: None)


def test_methods_of_one_trajectory_share_identical_evaluations_and_are_charged_for_them(traj_request):
    import shutil

    from bomf.fusion.pipeline import prepare_context

    ctx = prepare_context(traj_request, device="cpu")
    opts = (("n_init", 3), ("num_restarts", 2), ("raw_samples", 32))

    def request(method, options=opts):
        return FusionRequest(trajectory=traj_request, method=method, budget=5, options=options)

    bomf = run_fusion(request("bomf"), device="cpu", context=ctx)
    loss = run_fusion(request("bo_loss"), device="cpu", context=ctx)
    # BOMF and its ablation start from the same Sobol design: evaluated once, charged to both.
    assert bomf["costs"]["shared_evaluations"] == 0 and bomf["costs"]["computed_evaluations"] == 5
    # (on this tiny trajectory the metric may be constant, and both searches then follow the loss:
    # the BO steps' points are shared too)
    shared = loss["costs"]["shared_evaluations"]
    assert shared >= 3 and loss["costs"]["computed_evaluations"] == 5 - shared
    label = "bomf(n_init=3,num_restarts=2,raw_samples=32)"  # the method and its options
    assert loss["costs"]["fused_evaluations"] == 5 and [h["shared_from"] for h in loss["history"][:3]] == [label] * 3
    assert [h["loss"] for h in loss["history"][:3]] == [h["loss"] for h in bomf["history"][:3]]
    # The same search with another pick rule walks the same path: everything shared, the test too
    # when it picks the same model; its record is what it would have computed alone.
    picked = run_fusion(request("bomf", opts + (("pick_rule", "best_loss"),)), device="cpu", context=ctx)
    assert picked["costs"]["shared_evaluations"] == 5 and picked["costs"]["computed_evaluations"] == 0
    assert picked["costs"]["eval_seconds"] == pytest.approx(sum(h["seconds"] for h in bomf["history"]))
    shutil.rmtree(fusion_folder(request("bomf")))  # the same cell again, its record gone: nothing to compute
    again = run_fusion(request("bomf"), device="cpu", context=ctx)
    assert again["test"]["shared_from"] == label and again["test"]["metrics"] == bomf["test"]["metrics"]
    alone_request = request("bo_loss")
    shutil.rmtree(fusion_folder(alone_request))
    alone = run_fusion(alone_request, device="cpu")  # a fresh context: nothing to share
    assert alone["costs"]["computed_evaluations"] == 5 and alone["costs"]["shared_evaluations"] == 0
    strip = lambda r: [(h["weights"], h["loss"], h["metrics"]) for h in r["history"]]  # noqa: E731
    assert strip(alone) == strip(loss) and alone["test"]["metrics"] == loss["test"]["metrics"]
    assert alone["weights"] == loss["weights"] and alone["device"] == "cpu" and alone["precision"] == "fp32"


def test_records_carry_the_test_clusters_a_task_declares(tmp_path, monkeypatch):
    from dataclasses import replace

    from bomf.reports.evidence import test_clusters
    from bomf.tasks import Splits, get_task
    from bomf.tasks.base import TASKS, register_task
    from bomf.training.request import TrajectoryRequest

    base = get_task("rt-polarity")

    def clustered():  # rt-polarity with a made-up source per sentence: every 4 test sentences share one
        s = base.load()
        return Splits(train=s.train, val=s.val, test=replace(s.test, clusters=[f"src{i // 4}" for i in range(len(s.test))]))

    name = "rt-polarity-clustered-test"
    if name not in TASKS.names():
        register_task(replace(base, name=name, load=clustered, cluster_unit="source"))
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    req = tiny_request(seed=0)
    req = TrajectoryRequest(task=name, model=req.model, seed=0, config=req.config, limits=req.limits)
    rec = run_fusion(FusionRequest(trajectory=req, method="last"), device="cpu")
    clusters = rec["test"]["clusters"]
    assert len(clusters) == rec["test"]["n"] == 48 and len(set(clusters)) < 48  # subsampled, still grouped
    assert test_clusters(rec) == (clusters, "")  # the tables read them from the record
