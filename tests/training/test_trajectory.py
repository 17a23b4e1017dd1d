"""Trajectories: member schedule, cache key, caching, SWA phase, proxy freezing, divergence."""

from dataclasses import replace

import pytest
import torch

from bomf.training import request as R
from bomf.training import trajectory as T
from bomf.training.checkpoint import load_state
from bomf.core.errors import TrainingDivergedError
from bomf.models import freeze_bottom_layers, get_model
from bomf.tasks import SplitLimits

from helpers import tiny_request


def test_member_schedule_matches_the_calibration_run():
    # CALIBRATION.md: 282 steps, K = 10 members evenly from step 141.
    steps = R.member_steps(282, 10, 0.5)
    assert steps[0] == 141 and steps[-1] == 282 and len(steps) == 10
    gaps = [b - a for a, b in zip(steps, steps[1:])]
    assert max(gaps) - min(gaps) <= 1


def test_member_schedule_edge_cases():
    assert R.member_steps(10, 1, 0.5) == [10]
    assert R.member_steps(4, 10, 0.5) == [2, 3, 4]  # fewer distinct steps than members
    assert R.member_steps(100, 5, 0.0) == [1, 26, 50, 75, 100]


def test_cache_key_changes_with_every_input():
    base = tiny_request()
    variants = [
        replace(base, seed=1), replace(base, task="aclsum-qnli"), replace(base, model="tiny-bert-4l"),
        R.with_config(base, lr=2e-3), R.with_config(base, batch_size=8), R.with_config(base, num_members=4),
        R.with_config(base, freeze_layers=1), replace(base, limits=SplitLimits(train=97, val=48, test=48)),
    ]
    keys = {v.key() for v in variants}
    assert len(keys) == len(variants) and base.key() not in keys
    assert tiny_request().key() == base.key()


def test_trainer_version_is_part_of_the_key(monkeypatch):
    key = tiny_request().key()
    monkeypatch.setattr(R, "TRAINER_VERSION", "test-bump")
    assert tiny_request().key() != key


@pytest.fixture(scope="module")
def tiny_traj():
    return T.train_trajectory(tiny_request(seed=0), device="cpu")


def test_trajectory_holds_k_members_swa_and_costs(tiny_traj):
    info = tiny_traj.info
    assert info["total_steps"] == 6  # 96 examples / 16 per batch, 1 epoch
    assert [m["step"] for m in info["members"]] == R.member_steps(6, 3, 0.5) == [3, 4, 6]
    assert all(p.exists() for p in tiny_traj.member_files) and tiny_traj.swa_file.exists()
    assert info["swa"]["n_averaged"] == 6 - 3 + 1
    for m in info["members"]:
        assert set(m["val"]["metrics"]) == {"accuracy", "f1"} and m["val"]["n"] == 48
    c = info["costs"]
    assert c["optimizer_steps"] == 6 and c["examples"] == 96 and c["flops_estimate"] > 0 and c["tokens"] > 0
    # Members differ: training moved the weights between member steps.
    a, b = tiny_traj.load_members()[:2]
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_a_degenerate_trajectory_is_detected_when_training_ends(tmp_path, monkeypatch, caplog):
    from bomf.training.degenerate import degenerate_reason

    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))

    def frozen(model, cfg, total_steps):  # an optimizer that never moves: every member is the start
        opt = torch.optim.SGD(model.parameters(), lr=0.0)
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)

    monkeypatch.setattr(T, "_optimizer", frozen)
    with caplog.at_level("WARNING", logger="bomf"):
        traj = T.train_trajectory(tiny_request(seed=3), device="cpu")
    info = traj.info
    assert all(m["predicted_classes"] >= 1 for m in info["members"])
    assert info["degenerate"] == degenerate_reason([m["val"]["metrics"] for m in info["members"]], "accuracy",
                                                   [m["predicted_classes"] for m in info["members"]])
    assert info["degenerate"] is not None
    assert [r.message for r in caplog.records if "degenerate trajectory" in r.message]
    assert len([r for r in caplog.records if "degenerate trajectory" in r.message]) == 1  # one line


def test_degenerate_rules():
    from bomf.training.degenerate import degenerate_reason

    assert degenerate_reason([{"f1": 0.2}, {"f1": 0.3}], "f1", [1, 1]) == "every member predicts a single class on val"
    assert degenerate_reason([{"f1": 0.3}, {"f1": 0.3}], "f1", [2, 2]) == "the val f1 is 0.3000 for every member"
    assert degenerate_reason([{"f1": 0.3}, {"f1": 0.31}], "f1", [1, 2]) is None
    assert degenerate_reason([{"f1": 0.3}], "f1") is None  # one member: nothing to compare


def test_second_identical_request_trains_nothing(tiny_traj, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr(T, "encode_split", boom)
    again = T.train_trajectory(tiny_request(seed=0), device="cpu")
    assert again.folder == tiny_traj.folder and again.info == tiny_traj.info


def test_same_seed_same_weights_on_cpu(tiny_traj, tmp_path, monkeypatch):
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    fresh = T.train_trajectory(tiny_request(seed=0), device="cpu")
    assert fresh.folder != tiny_traj.folder
    for a, b in zip(tiny_traj.load_members(), fresh.load_members()):
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_swa_is_the_mean_of_the_states_in_its_phase(tmp_path, monkeypatch):
    # With swa_every == 3 over steps 3..6 the SWA average holds exactly the states at steps 3 and 6,
    # which are members 0 and 2.
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    traj = T.train_trajectory(tiny_request(seed=2, swa_every=3), device="cpu")
    m0, _, m2 = traj.load_members()
    swa = load_state(traj.swa_file)
    assert traj.info["swa"]["n_averaged"] == 2
    for k, v in swa.items():
        if v.is_floating_point() and "position_ids" not in k:
            assert torch.allclose(v, (m0[k] + m2[k]) / 2, atol=1e-6), k


def test_test_split_evaluation_covers_members_and_swa(tiny_traj):
    out = T.evaluate_trajectory(tiny_traj, "test", device="cpu")
    assert len(out["members"]) == 3 and out["swa"]["n"] == 48
    assert (tiny_traj.folder / "eval_test.json").exists()


def test_proxy_freezing_really_freezes(tmp_path, monkeypatch):
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    req = T.TrajectoryRequest(task="rt-polarity", model="tiny-bert-4l", seed=0,
                              config=tiny_request(freeze_layers=2).config, limits=tiny_request().limits)
    start = T.build_model(req).state_dict()
    traj = T.train_trajectory(req, device="cpu")
    last = traj.load_members()[-1]
    frozen = [k for k in start if k.startswith(("bert.embeddings.", "bert.encoder.layer.0.", "bert.encoder.layer.1."))]
    trained = [k for k in start if k.startswith(("bert.encoder.layer.3.", "classifier."))]
    assert frozen and trained
    assert all(torch.equal(start[k], last[k]) for k in frozen)
    assert all(not torch.equal(start[k], last[k]) for k in trained if "weight" in k)
    model = get_model("tiny-bert-4l").build_classifier(2, seed=0)
    freeze_bottom_layers(model, 2)
    assert not any(p.requires_grad for p in model.bert.encoder.layer[1].parameters())
    assert all(p.requires_grad for p in model.bert.encoder.layer[2].parameters())


def test_nan_loss_stops_training_with_a_clear_error_and_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("BOMF_CACHE", str(tmp_path))
    monkeypatch.setattr(T, "task_loss", lambda task, logits, labels: logits.sum() * float("nan"))
    with pytest.raises(TrainingDivergedError, match="diverged.*lower the learning rate"):
        T.train_trajectory(tiny_request(seed=5), device="cpu")
    assert not list((tmp_path / "trajectories").iterdir())
