"""BO overhead: the share of a stage-2 BOMF run's wall time not spent evaluating fused models.

Runs BOMF at default settings (budget 5K = 50, 10 restarts, 512 raw samples) on the offline
default (MiniLM, rt-polarity, seed 0; the trajectory is trained once and cached, ~4 min), in a
throw-away fusion cache so it always runs. Reports where the time goes: fused evaluations (fuse
+ val pass), BO (GP fit + acquisition optimisation), and the rest. Target: BO < 25% of wall time.
A second configuration, ``light`` (the primary metric and the loss only, 4 restarts, 128 raw
samples), measures the levers. Run with
``python -m pytest benchmarks/test_bench_bo_overhead.py --benchmark-only -s``.
"""

import os
import tempfile

import pytest

from bomf.fusion.pipeline import FusionRequest, run_fusion
from bomf.training.request import TrajectoryRequest
from bomf.training.trajectory import train_trajectory

from sidebyside import record


CONFIGS = {
    "bo_overhead": (),  # BOMF as shipped
    "bo_overhead_light": (("num_restarts", 4), ("objectives", "primary"), ("raw_samples", 128)),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_bomf_overhead_share(benchmark, name):
    traj = TrajectoryRequest(task="rt-polarity", model="minilm", seed=0)
    train_trajectory(traj)  # cached after the first run; not part of the measurement
    old = os.environ.get("BOMF_CACHE")
    data = os.environ.setdefault("BOMF_DATA_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "bomf", "data"))
    result = {}

    def run():
        with tempfile.TemporaryDirectory() as tmp:
            # Fusion records go to a fresh cache so the run is never a cache hit; the trajectory is linked.
            os.makedirs(os.path.join(tmp, "trajectories"))
            src = os.path.join(old or os.path.join(os.path.expanduser("~"), ".cache", "bomf"), "trajectories",
                               traj.key())
            os.symlink(src, os.path.join(tmp, "trajectories", traj.key()))
            os.environ["BOMF_CACHE"] = tmp
            try:
                result["record"] = run_fusion(FusionRequest(trajectory=traj, method="bomf", options=CONFIGS[name]),
                                              device="cpu")
            finally:
                if old is None:
                    os.environ.pop("BOMF_CACHE", None)
                else:
                    os.environ["BOMF_CACHE"] = old

    benchmark.pedantic(run, rounds=1, iterations=1)
    rec = result["record"]
    c = rec["costs"]
    bo = rec["info"]["bo_seconds"]
    wall = c["method_seconds"]
    out = record(name, {
        "wall_s": wall, "eval_s": c["eval_seconds"], "bo_s": bo, "other_s": wall - bo - c["eval_seconds"],
        "bo_share": bo / wall, "evaluations": c["fused_evaluations"], "eval_s_per_evaluation": c["eval_seconds"] /
        max(1, c["computed_evaluations"]), "bo_s_per_iteration": bo / max(1, c["fused_evaluations"] - 10),
    }, task="rt-polarity", model="minilm", budget=c["budget"], data_cache=data, options=dict(CONFIGS[name]),
        test_accuracy=rec["test"]["metrics"]["accuracy"], test_loss=rec["test"]["loss"])
    benchmark.extra_info.update({k: out[k] for k in ("bo_share", "wall_s", "bo_s", "eval_s")})
    print(f"\n{name}: BOMF stage 2: wall {wall:.0f} s = evaluations {c['eval_seconds']:.0f} s + BO {bo:.0f} s + other "
          f"{out['other_s']:.0f} s; BO share {100 * out['bo_share']:.0f}% (target < 25%)")
