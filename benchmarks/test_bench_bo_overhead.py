"""BO overhead: stage-2 wall time over the time spent in fused evaluations, per search method.

For each of ``bomf`` (as shipped), ``bomf_paper``, ``bo_loss``, ``bo_metric`` and ``smac_bo``:
one fusion at budget 50 on the offline default (MiniLM, rt-polarity, seed 0, K = 10; the
trajectory is trained once into the cache, ~5 min on 2 idle cores), in a throw-away fusion cache
so it always computes. The methods run one after the other in one process on one machine, so
their ratios are comparable. Reported per method (``results/benchmarks/bo_overhead.json``):

- ``ratio``: stage-2 wall (the method's run) / time in fused evaluations (fusion + val pass).
  Target for ``bomf``: <= 1.25;
- per BO iteration: GP fit, acquisition (build + optimisation), fusion (``pool.fuse``), val pass;
  medians and means, and every iteration's figures;
- ``one_off_s``: what a process pays once before its first BO step, timed apart by a warm-up on
  a toy problem (imports, and BoTorch's fused qLogNEHVI kernel: built once per environment, ~35 s,
  then loaded in ~0.05 s). Without the warm-up it lands in the first method's first acquisition;
- the test accuracy of the choice (a speed change must not cost quality: see
  ``benchmarks/test_bench_search_quality.py`` for the regret check).

Honours the cache settings (``$BOMF_CACHE``, ``$XDG_CACHE_HOME``): the trajectory comes from the
user's cache, the fusions go to a temporary one. Run with
``python -m pytest benchmarks/test_bench_bo_overhead.py --benchmark-only -s``; select methods with
``BOMF_BENCH_METHODS=bomf,bo_metric``.
"""

import os
import statistics
import tempfile
import time
from pathlib import Path

from bomf.bo import sobol_points, suggest_multi_objective
from bomf.core import paths
from bomf.fusion.pipeline import FusionRequest, prepare_context, run_fusion
from bomf.training.request import TrajectoryRequest
from bomf.training.trajectory import train_trajectory

from sidebyside import record

METHODS = ("bomf", "bomf_paper", "bo_loss", "bo_metric", "smac_bo")
BUDGET = 50
TARGET = 1.25


class TimedFuse:
    """Wraps ``pool.fuse`` to time the fusion apart from the val pass."""

    def __init__(self, pool):
        self.pool, self.inner, self.seconds = pool, pool.fuse, []

    def __call__(self, weights):
        t0 = time.perf_counter()
        out = self.inner(weights)
        self.seconds.append(time.perf_counter() - t0)
        return out


def _median(values):
    return statistics.median(values) if values else None


def _mean(values):
    return sum(values) / len(values) if values else None


def breakdown(record_: dict, fuse_seconds: list[float]) -> dict:
    costs, info = record_["costs"], record_["info"]
    evals = [e for e in record_["history"] if e["source"] == "fused"]
    steps = info.get("bo_steps") or []
    fit = [s["seconds"]["fit"] for s in steps]
    acq = [s["seconds"]["acquisition"] for s in steps]
    # Each computed evaluation fuses once, then the pipeline fuses the choice for test (not counted).
    # The val pass of an evaluation = its seconds minus its fusion (fuse is inside the timed call).
    fuse = fuse_seconds[: len(evals)]
    val = [e["seconds"] - f for e, f in zip(evals, fuse)]
    wall, eval_s = costs["method_seconds"], costs["eval_seconds"]
    bo_s = info.get("bo_seconds") or 0.0
    return {
        "wall_s": wall, "eval_s": eval_s, "bo_s": bo_s, "other_s": wall - eval_s - bo_s,
        "ratio": wall / eval_s, "evaluations": costs["fused_evaluations"], "bo_iterations": len(steps),
        "per_iteration": {
            "gp_fit_s": {"median": _median(fit), "mean": _mean(fit)},
            "acquisition_s": {"median": _median(acq), "mean": _mean(acq)},
            "bo_s": {"median": _median([s["seconds"]["step"] for s in steps]),
                     "mean": bo_s / max(1, len(steps)) if steps else (bo_s / max(1, costs["fused_evaluations"]))},
            "fusion_s": {"median": _median(fuse), "mean": _mean(fuse)},
            "val_pass_s": {"median": _median(val), "mean": _mean(val)},
        },
        "iterations": {"gp_fit_s": fit, "acquisition_s": acq, "fusion_s": fuse, "val_pass_s": val},
        "fallbacks": (info.get("fallbacks") or {}).get("count"),
        "test_accuracy": record_["test"]["metrics"]["accuracy"], "test_loss": record_["test"]["loss"],
        "val_accuracy": record_["val"]["metrics"]["accuracy"],
    }


def warm_up() -> float:
    """Run the process-level one-offs (imports, BoTorch's fused kernel) on a toy problem; seconds."""
    import torch

    t0 = time.perf_counter()
    X = sobol_points(6, 2, seed=0)
    Y = torch.stack([-(X - 0.2).pow(2).sum(-1), -(X - 0.8).pow(2).sum(-1)], -1)
    suggest_multi_objective(X, Y, Y.min(0).values - 0.1, seed=0, num_restarts=2, raw_samples=32)
    return time.perf_counter() - t0


def _link_trajectory(tmp: Path, traj: TrajectoryRequest, source_root: Path) -> None:
    (tmp / "trajectories").mkdir(parents=True)
    os.symlink(source_root / "trajectories" / traj.key(), tmp / "trajectories" / traj.key())


def test_bo_overhead_per_method(benchmark):
    methods = [m for m in os.environ.get("BOMF_BENCH_METHODS", ",".join(METHODS)).split(",") if m]
    traj = TrajectoryRequest(task="rt-polarity", model="minilm", seed=0)
    train_trajectory(traj, device="cpu")  # cached after the first run; not part of the measurement
    user_root = paths.cache_root()
    # Downloaded data stays shared with the user's cache (the temporary cache has none).
    os.environ.setdefault("BOMF_DATA_CACHE", str(paths.cache_dir("data")))
    old = os.environ.get("BOMF_CACHE")
    results = {}
    one_off = warm_up()

    def run():
        with tempfile.TemporaryDirectory() as tmp:
            _link_trajectory(Path(tmp), traj, user_root)
            os.environ["BOMF_CACHE"] = tmp
            try:
                ctx = prepare_context(traj, device="cpu")
                for method in methods:
                    timer = TimedFuse(ctx.pool)
                    ctx.pool.fuse = timer
                    try:
                        rec = run_fusion(FusionRequest(trajectory=traj, method=method, budget=BUDGET), device="cpu",
                                         context=ctx)
                    finally:
                        ctx.pool.fuse = timer.inner
                    results[method] = breakdown(rec, timer.seconds)
            finally:
                if old is None:
                    os.environ.pop("BOMF_CACHE", None)
                else:
                    os.environ["BOMF_CACHE"] = old

    benchmark.pedantic(run, rounds=1, iterations=1)
    out = record("bo_overhead", {"methods": results, "target_ratio_bomf": TARGET, "one_off_s": one_off}, task="rt-polarity", model="minilm",
                 members=traj.config.num_members, budget=BUDGET, seed=0)
    benchmark.extra_info.update({m: r["ratio"] for m, r in results.items()})
    print(f"\none-off per process (imports, BoTorch's fused kernel), before the methods: {one_off:.1f} s")
    for m, r in results.items():
        it = r["per_iteration"]
        print(f"{m:12s} wall {r['wall_s']:6.0f} s = evaluations {r['eval_s']:5.0f} s + BO {r['bo_s']:5.0f} s "
              f"+ other {r['other_s']:4.0f} s -> ratio {r['ratio']:.2f}; per BO iteration: fit "
              f"{_fmt(it['gp_fit_s']['median'])} s, acquisition {_fmt(it['acquisition_s']['median'])} s, fusion "
              f"{_fmt(it['fusion_s']['median'])} s, val pass {_fmt(it['val_pass_s']['median'])} s; test acc "
              f"{r['test_accuracy']:.3f}")
    assert set(results) == set(methods) and out["benchmark"] == "bo_overhead"


def _fmt(v):
    return "-" if v is None else f"{v:.2f}"
