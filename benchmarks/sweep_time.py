#!/usr/bin/env python
"""Where the default sweep's time goes, and what this version of the code saves of it.

    python benchmarks/sweep_time.py           # -> results/benchmarks/sweep_time.json and a table

The default sweep (``python run_all.py``: the offline suite, 66 cells in 6 trajectory groups)
is too long to time before and after on a shared machine, so this splits it into components:

1. **Measured on the committed records** (made on an idle 2-core machine): trajectory training
   and the members' val evaluations, fused val evaluations (fuse + val pass), test evaluations,
   BO numerics (``bo_seconds``), the rest of each method's time (SMAC's own work, learned-soup
   gradient steps, bookkeeping).
2. **Counted exactly on the same records**: the evaluations the trajectory-wide cache no longer
   computes (a weight vector several methods of one trajectory evaluate, a final model several
   methods choose), replaying each group's methods in the suite's order.
3. **Measured side by side here** (interleaved, medians, one process, one torch thread, CPU
   seconds, which on a busy machine stand for an idle core's wall time better than wall time
   does): a fused evaluation with the pool as it was (``torch._foreach_add_`` per member) vs
   the pool now (one matrix-vector product), MiniLM, K = 8, the 500-sentence val split; and, as
   levers not taken, the same val pass and a training step under CPU bf16 autocast.

The estimate after = committed component times, minus the shared evaluations and the fuse time
saved per computed evaluation.
It is an extrapolation, not a timing of ``run_all.py``; the JSON says which number is which.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(Path(__file__).resolve().parent)]

ORDER = ("bomf", "bo_loss", "bo_metric", "smac_bo", "random_search", "last", "best", "swa", "uniform_soup",
         "greedy_soup", "learned_soup")  # the offline suite's methods, in the order a group runs them


def records_folder() -> Path:
    for path in (REPO / "results" / "reference" / "offline" / "runs" / "offline", REPO / "results" / "runs" / "offline"):
        if path.exists():
            return path
    raise SystemExit("no committed records of the offline suite under results/")


def _key(weights) -> tuple:
    return tuple(round(float(w), 12) for w in weights)


def breakdown(folder: Path) -> dict:
    """Component seconds of the committed sweep, and the evaluations sharing saves, per task."""
    groups: dict = defaultdict(dict)
    for path in folder.rglob("seed*.json"):
        rec = json.loads(path.read_text())
        groups[(rec["task"], rec["seed"])][rec["method"]] = rec
    out: dict = defaultdict(lambda: defaultdict(float))
    for (task, _seed), methods in sorted(groups.items()):
        t = out[task]
        traj = next(iter(methods.values()))["trajectory"]["costs"]
        t["train_s"] += traj["train_seconds"]
        t["member_eval_s"] += traj["member_eval_seconds"]
        seen, tested = set(), set()
        for name in ORDER:
            rec = methods.get(name)
            if rec is None:
                continue
            c = rec["costs"]
            per_eval = c["eval_seconds"] / max(1, c["computed_evaluations"])
            t["val_evaluations"] += c["computed_evaluations"]
            t["val_eval_s"] += c["eval_seconds"]
            for h in rec["history"]:
                if _key(h["weights"]) in seen:
                    t["val_evaluations_shared"] += 1
                    t["val_eval_s_shared"] += h.get("seconds", per_eval)
                seen.add(_key(h["weights"]))
            bo = (rec.get("info") or {}).get("bo_seconds", 0.0)
            t["bo_s"] += bo
            t["other_method_s"] += c["method_seconds"] - c["eval_seconds"] - bo
            test_key = ("swa",) if rec["state_source"] == "swa" else _key(rec["weights"])
            t["test_evaluations"] += 1
            t["test_s"] += c["test_seconds"]
            if test_key in tested:
                t["test_evaluations_shared"] += 1
                t["test_s_shared"] += c["test_seconds"]
            tested.add(test_key)
    return {task: dict(v) for task, v in out.items()}


def measure_fused_evaluation(rounds: int) -> dict:
    """Old pool vs new pool, each a fuse + the val pass, interleaved; and the val pass in bf16."""
    import torch

    from bomf.fusion import CheckpointPool
    from bomf.training.build import build_evaluator, build_model
    from bomf.training.request import TrainConfig, TrajectoryRequest

    request = TrajectoryRequest("rt-polarity", "minilm", seed=0, config=TrainConfig(lr=5e-5, batch_size=32, epochs=2,
                                                                                     num_members=8))
    model = build_model(request)
    base = {n: t.clone() for n, t in model.state_dict().items()}
    gen = torch.Generator().manual_seed(0)
    members = [{n: t + 0.01 * torch.randn(t.shape, generator=gen) if t.is_floating_point() else t for n, t in base.items()}
               for _ in range(8)]
    pool = CheckpointPool(model, members)
    old_model = build_model(request)
    targets = [t for n, t in old_model.state_dict().items() if n in pool.names]
    old_members = [[m[n] for n in pool.names] for m in members]
    val = build_evaluator(request, "val", "cpu")
    val_bf16 = build_evaluator(request, "val", "cpu", mixed_precision="bf16")

    def weights():
        w = torch.rand(8, generator=gen)
        return (w / w.sum()).tolist()

    @torch.no_grad()
    def old_fuse(w):
        torch._foreach_zero_(targets)
        for wk, tensors in zip(w, old_members):
            torch._foreach_add_(targets, tensors, alpha=wk)

    def clock():
        return time.perf_counter(), time.process_time()

    times = defaultdict(list)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: CPU time then stands for the time on an idle core
    try:
        for r in range(rounds + 1):
            w = weights()
            t0 = clock(); old_fuse(w); t1 = clock(); a = val(old_model); t2 = clock()
            pool.fuse(w); t3 = clock(); b = val(model); t4 = clock()
            c = val_bf16(model); t5 = clock()
            assert abs(a.loss - b.loss) < 1e-5, (a.loss, b.loss)
            if r == 0:
                continue  # warm-up
            for i, suffix in ((0, "s"), (1, "cpu_s")):
                times[f"old_fuse_{suffix}"].append(t1[i] - t0[i])
                times[f"old_eval_{suffix}"].append(t2[i] - t0[i])
                times[f"new_fuse_{suffix}"].append(t3[i] - t2[i])
                times[f"new_eval_{suffix}"].append(t4[i] - t2[i])
                times[f"val_pass_fp32_{suffix}"].append(t4[i] - t3[i])
                times[f"val_pass_bf16_{suffix}"].append(t5[i] - t4[i])
            times["bf16_loss_difference"].append(abs(c.loss - b.loss))
    finally:
        torch.set_num_threads(threads)
    med = {k: statistics.median(v) for k, v in times.items()}
    # The estimate uses CPU time on one thread (wall time on this shared machine includes others' turns).
    med["eval_ratio_new_over_old"] = med["new_eval_cpu_s"] / med["old_eval_cpu_s"]
    med["eval_ratio_new_over_old_wall"] = med["new_eval_s"] / med["old_eval_s"]
    med["bf16_val_pass_ratio"] = med["val_pass_bf16_cpu_s"] / med["val_pass_fp32_cpu_s"]
    med["rounds"] = rounds
    med["threads"] = 1
    med["load_average"] = __import__("os").getloadavg()[0]
    return med


def measure_train_step(rounds: int) -> dict:
    """A lever not taken: one MiniLM training step (batch 32 of rt-polarity) in float32 vs under
    CPU bf16 autocast, interleaved, one thread, CPU seconds."""
    import torch

    from bomf.models import get_model
    from bomf.tasks import get_task
    from bomf.tasks.encoding import collate, encode_split

    task, spec = get_task("rt-polarity"), get_model("minilm")
    enc = encode_split(spec.load_tokenizer(), task.load_splits().train, 64)
    model = spec.build_classifier(2, seed=0).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    batches = [collate(enc, list(range(i, i + 32))) for i in range(0, 32 * (rounds + 1), 32)]

    def step(batch, bf16: bool) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        torch.nn.functional.cross_entropy(logits.float(), batch["labels"]).backward()
        optimizer.step()
        optimizer.zero_grad()

    times = {False: [], True: []}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for r, batch in enumerate(batches):
            for bf16 in (False, True):
                c0 = time.process_time()
                step(batch, bf16)
                if r:
                    times[bf16].append(time.process_time() - c0)
    finally:
        torch.set_num_threads(threads)
    fp32, bf16 = statistics.median(times[False]), statistics.median(times[True])
    return {"train_step_fp32_cpu_s": fp32, "train_step_bf16_cpu_s": bf16, "bf16_train_step_ratio": bf16 / fp32}


def estimate(parts: dict, measured: dict) -> dict:
    """The sweep's committed seconds by component, and after: fewer evaluations, faster fusion."""
    # A fused evaluation's val pass is unchanged; its fuse got faster by this much. (The ratio of
    # whole evaluations, ``eval_ratio_new_over_old``, is within its noise of 1: the pass dominates.)
    fuse_saving = max(0.0, measured["old_fuse_cpu_s"] - measured["new_fuse_cpu_s"])
    rows, before, after = {}, 0.0, 0.0
    for task, t in parts.items():
        b = {"training + member evaluations": t["train_s"] + t["member_eval_s"], "fused val evaluations": t["val_eval_s"],
             "test evaluations": t["test_s"], "BO numerics": t["bo_s"], "other method time": t["other_method_s"]}
        a = dict(b)
        computed = t["val_evaluations"] - t.get("val_evaluations_shared", 0)
        a["fused val evaluations"] = t["val_eval_s"] - t.get("val_eval_s_shared", 0.0) - computed * fuse_saving
        a["test evaluations"] = t["test_s"] - t.get("test_s_shared", 0.0)
        rows[task] = {"before_s": b, "after_s": a}
        before += sum(b.values())
        after += sum(a.values())
    out = {"by_task": rows, "before_s": before, "after_s": after, "saved_s": before - after}
    if "bf16_train_step_ratio" in measured:  # the lever not taken, for the record: CPU bf16 autocast
        out["after_with_cpu_bf16_s"] = sum(
            r["after_s"]["training + member evaluations"] * measured["bf16_train_step_ratio"]
            + (r["after_s"]["fused val evaluations"] + r["after_s"]["test evaluations"]) * measured["bf16_val_pass_ratio"]
            + r["after_s"]["BO numerics"] + r["after_s"]["other method time"] for r in rows.values())
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=str(REPO / "results" / "benchmarks" / "sweep_time.json"))
    args = p.parse_args(argv)
    parts = breakdown(records_folder())
    measured = measure_fused_evaluation(args.rounds)
    measured.update(measure_train_step(2 * args.rounds))
    est = estimate(parts, measured)
    out = {"benchmark": "sweep_time", "committed_components": parts, "measured_here": measured, "estimate": est,
           "note": "before = the committed records' own seconds (idle 2-core machine); after = the same components "
                   "minus the evaluations the trajectory-wide cache shares and the fuse time saved per computed "
                   "evaluation (measured here side by side, one thread, CPU seconds). "
                   "BO numerics and SMAC are as committed (their changes are measured by the BO benchmark). Not a "
                   "timing of run_all.py."}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    print(f"fused evaluation (one thread, CPU s): old {measured['old_eval_cpu_s']:.2f} (fuse "
          f"{measured['old_fuse_cpu_s']:.3f}) vs new {measured['new_eval_cpu_s']:.2f} (fuse {measured['new_fuse_cpu_s']:.3f}): "
          f"x{measured['eval_ratio_new_over_old']:.3f}; under CPU bf16 autocast (not used): val pass "
          f"x{measured['bf16_val_pass_ratio']:.2f}, training step x{measured['bf16_train_step_ratio']:.2f}")
    for task, row in est["by_task"].items():
        print(f"\n{task}:")
        for comp, sec in row["before_s"].items():
            print(f"  {comp:32s} {sec / 60:6.1f} min -> {row['after_s'][comp] / 60:6.1f} min")
    print(f"\nsweep: {est['before_s'] / 60:.1f} min of component time -> {est['after_s'] / 60:.1f} min (estimate); "
          f"with CPU bf16 autocast (not taken) {est.get('after_with_cpu_bf16_s', float('nan')) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
