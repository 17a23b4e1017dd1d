"""Trajectories: member schedule, cache key, caching, SWA phase, proxy freezing, divergence."""

from dataclasses import replace

import pytest
import torch

from bomf.training import request as R
from bomf.training import trajectory as T
from bomf.training.checkpoint import load_state
from bomf.core.errors import BomfError, TrainingDivergedError
from bomf.models import freeze_bottom_layers, get_model
from bomf.tasks import SplitLimits

from helpers import tiny_request


def test_member_schedule_matches_the_calibration_run():
    # docs/calibration.md: 282 steps, K = 10 members evenly from step 141.
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


EXTERNAL_TASK = """
import csv, sys
from bomf.tasks import Split, Splits, Task, register_task
from bomf.training.request import TrajectoryRequest

def load():
    rows = list(csv.reader(open(sys.argv[1])))
    split = lambda part: Split([r[1] for r in part], None, [int(r[0]) for r in part])
    return Splits(train=split(rows[:8]), val=split(rows[8:12]), test=split(rows[12:]))

register_task(Task(name="my-reviews", kind="classification", num_labels=2, metrics=("accuracy",),
                   primary_metric="accuracy", load=load, source="offline", description="a user's own data"))
print(TrajectoryRequest("my-reviews", "tiny-bert", seed=0).key())
"""


def test_a_task_registered_from_outside_is_keyed_by_its_data_not_its_name(tmp_path):
    """Issue 13: a task from outside the package was keyed by its name; flipping its labels and
    re-running reported the old results ("0 to run"). Each run is a fresh process, as for a user."""
    import subprocess
    import sys

    data = tmp_path / "reviews.csv"
    rows = [(i % 2, f"review number {i}") for i in range(16)]

    def key_of(rows) -> str:
        data.write_text("".join(f"{label},{text}\n" for label, text in rows))
        out = subprocess.run([sys.executable, "-c", EXTERNAL_TASK, str(data)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout.strip()

    original = key_of(rows)
    assert key_of(rows) == original  # same data, same key: cached work is found
    assert key_of([(1 - label, text) for label, text in rows]) != original  # flipped labels: trained afresh


def test_the_key_holds_the_data_weights_tokenizer_defaults_and_device(monkeypatch):
    from bomf.core import device as D
    from bomf.models import registry as M

    ident = tiny_request().identity()
    assert len(ident["data"]) == 16 and set(ident["weights"]) == {"weights", "tokenizer"}
    assert ident["compute"] == {"device": "cpu", "precision": "no", "threads": torch.get_num_threads()} and ident["defaults"]["max_length"] == 64
    key = tiny_request().key()
    # Another tokenizer behind the same model name: a new key.
    tiny = M.get_model("tiny-bert")
    monkeypatch.setitem(M._FINGERPRINTS, id(tiny), (tiny, {**tiny.fingerprint(), "tokenizer": "another"}))
    assert tiny_request().key() != key
    monkeypatch.undo()
    assert tiny_request().key() == key
    # The same request on a GPU with bf16: a new key (its numbers differ).
    monkeypatch.setattr(D.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(D.torch.cuda, "is_bf16_supported", lambda: True)
    assert tiny_request().identity()["compute"] == {"device": "cuda", "precision": "bf16"}
    assert tiny_request().key() != key


def test_registry_defaults_that_shape_a_run_enter_the_key(monkeypatch):
    """A model's default LoRA rank and targets, a task's length and decoding bounds."""
    from dataclasses import replace as dc_replace

    from bomf.models import MODELS
    from bomf.tasks import TASKS

    request = R.TrajectoryRequest("aclsum-summ", "tiny-llama", seed=0, limits=SplitLimits(8, 4, 4))
    key = request.key()
    assert request.identity()["defaults"]["lora_rank"] == get_model("tiny-llama").default_lora_rank
    spec = MODELS.get("tiny-llama")
    monkeypatch.setitem(MODELS._items, "tiny-llama", dc_replace(spec, default_lora_rank=spec.default_lora_rank + 4))
    assert request.key() != key
    monkeypatch.undo()
    task = TASKS.get("aclsum-summ")
    monkeypatch.setitem(TASKS._items, "aclsum-summ", dc_replace(task, max_new_tokens=task.max_new_tokens + 1))
    assert request.key() != key


def test_bad_training_values_are_one_line_naming_the_field():
    with pytest.raises(BomfError, match=r"training config: batch_size must be an int >= 1, got '16' \(text\); write 16 without quotes"):
        R.TrainConfig(batch_size="16")
    with pytest.raises(BomfError, match=r"lr must be a float in \(0, 10\], got 0"):
        R.TrainConfig(lr=0)
    with pytest.raises(BomfError, match=r"split limits: train must be an int >= 1 or None, got -5"):
        SplitLimits(train=-5)
    assert R.TrainConfig(lora_alpha=16) == R.TrainConfig(lora_alpha=16.0)  # one value, one key


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
