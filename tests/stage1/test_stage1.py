"""Stage 1: BO over hyperparameters on synthetic objectives, failed trials, resume, real proxy trials."""

import math

import pytest
import torch

from bomf.stage1 import search as hpo
from bomf.stage1.search import SearchSpace, Trial, search
from bomf.stage1.strategies import get_stage1
from bomf.training.request import TrainConfig
from bomf.training.trajectory import train_trajectory

from helpers import TINY_LIMITS, tiny_request

BASE = TrainConfig(epochs=1, batch_size=16, num_members=3, eval_batch_size=32)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def synthetic(calls, fail_if=None):
    """Score peaks at lr = 1e-4, batch 24; optionally fails in a region."""

    def trial_fn(task, model, seed, base, limits, values, freeze_layers, patience, device):
        calls.append(values)
        if fail_if and fail_if(values):
            return Trial(values=values, score=float("nan"), status="failed", error="diverged")
        score = -(math.log10(values["lr"]) + 4) ** 2 - ((values["batch_size"] - 24) / 56) ** 2
        return Trial(values=values, score=score, status="ok", optimizer_steps=10, seconds=1.0)

    return trial_fn


def test_space_decodes_log_lr_and_integer_batch():
    space = SearchSpace(lr=(1e-5, 1e-3), batch_size=(8, 64))
    assert space.decode([0.5, 0.5]) == {"lr": pytest.approx(1e-4), "batch_size": 36}
    assert space.encode({"lr": 1e-4, "batch_size": 36}) == pytest.approx([0.5, 0.5])


def test_bo_finds_the_synthetic_optimum_within_its_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    calls = []
    res = search("rt-polarity", "tiny-bert", 0, BASE, None, strategy="bo", trials=14, n_init=4,
                 trial_fn=synthetic(calls))
    assert len(calls) == 14 and res.costs["trials"] == 14 and res.costs["optimizer_steps"] == 140
    assert abs(math.log10(res.best["lr"]) + 4) < 0.25 and abs(res.best["batch_size"] - 24) <= 8
    # Same budget of random points does worse than BO's best.
    rng = torch.Generator().manual_seed(0)
    rand = [SearchSpace().decode(torch.rand(2, generator=rng).tolist()) for _ in range(14)]
    score = lambda v: -(math.log10(v["lr"]) + 4) ** 2 - ((v["batch_size"] - 24) / 56) ** 2  # noqa: E731
    assert score(res.best) > max(score(v) for v in rand)


def test_failed_trials_are_recorded_scored_worst_and_the_search_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    calls = []
    res = search("rt-polarity", "tiny-bert", 0, BASE, None, strategy="bo", trials=10, n_init=4,
                 trial_fn=synthetic(calls, fail_if=lambda v: v["lr"] > 1e-4))
    assert len(calls) == 10 and res.costs["failed"] >= 1
    failed = [t for t in res.trials if t.status == "failed"]
    assert all(t.error == "diverged" for t in failed) and res.best["lr"] <= 1e-4
    ok_scores = [t.score for t in res.trials if t.status == "ok"]
    assert hpo.scores_for_surrogate(res.trials)[res.trials.index(failed[0])] == min(ok_scores)


def test_a_killed_search_resumes_without_rerunning_finished_trials(tmp_path, monkeypatch):
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    calls = []
    inner = synthetic(calls)

    def dying(*a):
        if len(calls) == 5:
            raise KeyboardInterrupt
        return inner(*a)

    with pytest.raises(KeyboardInterrupt):
        search("rt-polarity", "tiny-bert", 0, BASE, None, strategy="bo", trials=8, n_init=3, trial_fn=dying)
    assert len(calls) == 5
    res = search("rt-polarity", "tiny-bert", 0, BASE, None, strategy="bo", trials=8, n_init=3, trial_fn=inner)
    assert len(calls) == 8 and len(res.trials) == 8
    # The resumed search follows the same path as an uninterrupted one.
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path / "fresh"))
    calls2 = []
    ref = search("rt-polarity", "tiny-bert", 0, BASE, None, strategy="bo", trials=8, n_init=3, trial_fn=synthetic(calls2))
    assert [t.values for t in ref.trials] == [t.values for t in res.trials]


def test_the_trial_journal_key_holds_the_trainer_version(tmp_path, monkeypatch):
    """Issue 13: the stage-1 journal key left out the trainer version, so trials of an older
    trainer were replayed as if current. Same search: replayed; a new trainer: run again."""
    from bomf.training import request as R

    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    calls = []
    run = lambda: search("rt-polarity", "tiny-bert", 0, BASE, None, strategy="bo", trials=3, n_init=3,  # noqa: E731
                         trial_fn=synthetic(calls))
    run()
    run()
    assert len(calls) == 3  # the second search replayed the journal
    monkeypatch.setattr(R, "TRAINER_VERSION", "test-bump")
    run()
    assert len(calls) == 6 and len(list((tmp_path / "stage1").iterdir())) == 2


def test_stage1_options_are_checked_before_any_trial():
    from bomf.core.errors import BomfError

    strategy = get_stage1("bomf")
    with pytest.raises(BomfError, match=r"stage-1 strategy bomf: trials must be an int in \[1, 10000\], got 0"):
        strategy.choose("rt-polarity", "tiny-bert", 0, BASE, None, trials=0)
    with pytest.raises(BomfError, match=r"batch_size must be a \[low, high\] pair of ints"):
        strategy.choose("rt-polarity", "tiny-bert", 0, BASE, None, batch_size=[64, 8])
    assert strategy.resolve_options({"lr": [1e-5, 1e-3]})["lr"] == (1e-5, 1e-3)


def test_early_stopping_ends_a_flat_trial(tmp_path, monkeypatch):
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    req = tiny_request(lr=1e-9, num_members=6, epochs=2)  # the metric cannot move
    traj = train_trajectory(req, device="cpu", save_members=False, patience=2)
    assert traj.info["stopped_early"] and traj.info["costs"]["optimizer_steps"] < traj.info["total_steps"]
    assert len(traj.info["members"]) == 3


def test_real_proxy_and_full_searches_on_a_tiny_model(tmp_path, monkeypatch):
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    opts = dict(trials=3, n_init=2, lr=[1e-4, 3e-3], batch_size=[8, 32])
    proxy = get_stage1("bomf").choose("rt-polarity", "tiny-bert-4l", 0, BASE, TINY_LIMITS, **opts)
    full = get_stage1("hpbo_full").choose("rt-polarity", "tiny-bert-4l", 0, BASE, TINY_LIMITS, **opts)
    assert proxy.info["freeze_layers"] == 2 and full.info["freeze_layers"] == 0
    assert proxy.costs["trials"] == full.costs["trials"] == 3
    assert 1e-4 <= proxy.config.lr <= 3e-3 and 8 <= proxy.config.batch_size <= 32
    assert proxy.config.freeze_layers == 0  # the proxy only chooses; the trajectory trains the full model
    # Both searches count their FLOPs (the proxy's per-token saving is checked at equal values in
    # test_the_proxy_costs_fewer_flops_than_the_full_model_for_the_same_trial).
    assert proxy.costs["flops_estimate"] > 0 and full.costs["flops_estimate"] > 0
    again = get_stage1("bomf").choose("rt-polarity", "tiny-bert-4l", 0, BASE, TINY_LIMITS, **opts)
    assert again.config == proxy.config and again.costs == proxy.costs  # replayed from the journal
    grid = get_stage1("grid").choose("rt-polarity", "tiny-bert-4l", 0, BASE, TINY_LIMITS, lrs=[1e-4, 1e-3],
                                     batch_sizes=[16])
    assert grid.costs["trials"] == 2 and grid.config.lr in (1e-4, 1e-3)


def test_the_proxy_costs_fewer_flops_than_the_full_model_for_the_same_trial(tmp_path, monkeypatch):
    """Frozen layers need no backward pass: the same trial (same values, data and steps) on the
    proxy costs fewer FLOPs, by exactly the ratio the parameter counts give."""
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    values = {"lr": 1e-3, "batch_size": 16}
    proxy = hpo.run_trial("rt-polarity", "tiny-bert-4l", 0, BASE, TINY_LIMITS, values, 2, None, "cpu")
    full = hpo.run_trial("rt-polarity", "tiny-bert-4l", 0, BASE, TINY_LIMITS, values, 0, None, "cpu")
    assert proxy.status == full.status == "ok" and proxy.optimizer_steps == full.optimizer_steps > 0
    from bomf.models import count_parameters_for_flops, freeze_bottom_layers, get_model

    counts = []
    for frozen in (2, 0):
        model = get_model("tiny-bert-4l").build_classifier(2, seed=0)
        freeze_bottom_layers(model, frozen)
        counts.append(count_parameters_for_flops(model))
    per_token = [2 * c["non_embedding"] + 4 * c["trainable_non_embedding"] for c in counts]
    assert per_token[0] < per_token[1]
    assert proxy.flops_estimate < full.flops_estimate
    assert proxy.flops_estimate / full.flops_estimate == pytest.approx(per_token[0] / per_token[1], rel=1e-12)


def test_a_diverging_trial_is_a_failed_trial_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    import bomf.training.trajectory as T

    monkeypatch.setattr(T, "task_loss", lambda task, logits, labels: logits.sum() * float("nan"))
    trial = hpo.run_trial("rt-polarity", "tiny-bert", 0, BASE, TINY_LIMITS, {"lr": 1e-3, "batch_size": 16}, 0, None,
                          "cpu")
    assert trial.status == "failed" and "diverged" in trial.error
