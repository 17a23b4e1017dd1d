#!/usr/bin/env python
"""Run the default job: one real trajectory, fused by every registered method, in one table.

    python run_all.py                      # rt-polarity, MiniLM, seed 0, every method
    python run_all.py --task aclsum-qnli --seeds 0 1 2 --methods bomf uniform_soup

Everything is cached: a second run recomputes nothing. (The suite-based sweep with tables over
seeds and paired tests is the harness's job; see the README's Status.)
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    from bomf.errors import BomfError
    from bomf.fusion import METHODS, get_method
    from bomf.pipeline import FusionRequest, run_fusion
    from bomf.tasks import get_task
    from bomf.trajectory import TrainConfig, TrajectoryRequest

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="rt-polarity")
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--methods", nargs="+", default=None, help="default: every registered method")
    parser.add_argument("--budget", type=int, default=None, help="fused evaluations per search method (default 5K)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    try:
        from tabulate import tabulate

        task = get_task(args.task)
        methods = args.methods or METHODS.names()
        for m in methods:
            get_method(m)
        rows, start = [], time.perf_counter()
        for seed in args.seeds:
            traj = TrajectoryRequest(task=args.task, model=args.model, seed=seed, config=TrainConfig())
            for method in methods:
                rec = run_fusion(FusionRequest(trajectory=traj, method=method, budget=args.budget), device=args.device,
                                 progress=True)
                p = rec["primary_metric"]
                rows.append((method, seed, rec["val"]["metrics"][p], rec["val"]["loss"], rec["test"]["metrics"][p],
                             rec["test"]["loss"], rec["costs"]["fused_evaluations"], rec["costs"]["method_seconds"]))
                print(f"done: {method} seed {seed}: test {p} {rec['test']['metrics'][p]:.4f}", file=sys.stderr)
        p = task.primary_metric
        print(tabulate(rows, headers=["method", "seed", f"val {p}", "val loss", f"test {p}", "test loss", "evals", "s"],
                       floatfmt=".4f"))
        print(f"wall time {time.perf_counter() - start:.0f} s")
    except BomfError as exc:
        print(f"run_all: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
