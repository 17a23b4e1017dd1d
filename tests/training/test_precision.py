"""The bf16 path without a GPU: one trajectory and one fusion cell under CPU bf16 autocast.

On CUDA, training and evaluation run under bf16 autocast; here the same code path runs on a
CPU (``torch.autocast("cpu", dtype=torch.bfloat16)``, which ``precision="bf16"`` switches on),
beside a float32 run of the same request in another cache. Weights stay float32 throughout.
"""

import math

import pytest
import torch

from bomf.fusion.pipeline import FusionRequest, prepare_context, run_fusion
from bomf.training.checkpoint import load_state
from bomf.training.trajectory import train_trajectory

from bomf.tasks import SplitLimits
from bomf.training.request import TrainConfig, TrajectoryRequest


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import os

    # The real MiniLM on a few hundred sentences: it learns (val loss well below log 2), so
    # "close to float32" is a statement about a trained model, not about chance-level outputs.
    request = TrajectoryRequest("rt-polarity", "minilm", seed=0, limits=SplitLimits(160, 48, 48),
                                config=TrainConfig(epochs=2, batch_size=16, num_members=3, lr=2e-4, eval_batch_size=48))
    out, old = {}, os.environ["BOMF_CACHE"]
    try:
        for precision in ("fp32", "bf16"):
            os.environ["BOMF_CACHE"] = str(tmp_path_factory.mktemp(f"cache-{precision}"))
            # The precision is part of the request (and of its key): the fusion cell names it too.
            at = request.on_device("cpu", precision)
            traj = train_trajectory(at)
            ctx = prepare_context(at)
            record = run_fusion(FusionRequest(trajectory=at, method="uniform_soup"), context=ctx)
            out[precision] = (traj, ctx, record)
    finally:
        os.environ["BOMF_CACHE"] = old
    return out


def test_bf16_trajectory_and_fusion_cell_are_finite_and_close_to_float32(runs):
    (t32, _, r32), (t16, ctx16, r16) = runs["fp32"], runs["bf16"]
    assert t16.info["costs"]["precision"] == "bf16" and t32.info["costs"]["precision"] == "fp32"
    assert t16.info["key"] != t32.info["key"] and r16["key"] != r32["key"]  # the precision is in both keys
    assert r16["precision"] == "bf16" and r32["precision"] == "fp32" and ctx16.precision.name == "bf16"
    losses16 = [m["val"]["loss"] for m in t16.info["members"]] + [r16["val"]["loss"], r16["test"]["loss"]]
    losses32 = [m["val"]["loss"] for m in t32.info["members"]] + [r32["val"]["loss"], r32["test"]["loss"]]
    assert all(math.isfinite(v) for v in losses16)
    assert losses16 != losses32  # autocast was really on
    assert min(losses32[:3]) < 0.66  # the model learned something (log 2 = 0.693)
    # Close: bf16 keeps 8 bits of mantissa in the products; over 20 steps the val and test losses
    # moved by under 1e-3 when measured (160 train sentences), accuracy by no example at all.
    assert max(abs(a - b) for a, b in zip(losses16, losses32)) < 0.01
    for split in ("val", "test"):
        assert abs(r16[split]["metrics"]["accuracy"] - r32[split]["metrics"]["accuracy"]) <= 3 / 48


def test_bf16_keeps_members_pool_and_swa_in_float32(runs):
    traj, ctx, _ = runs["bf16"]
    for path in [*traj.member_files, traj.swa_file]:
        assert {t.dtype for t in load_state(path).values() if t.is_floating_point()} == {torch.float32}
    assert {g.matrix.dtype for g in ctx.pool._groups} == {torch.float32}
    assert all(p.dtype == torch.float32 for p in ctx.pool.model.parameters())
