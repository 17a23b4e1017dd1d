"""Plots from stored records alone (matplotlib, Agg backend).

- ``landscape__<task>__<model>__<stage1>__seed<k>.png``: val metric against val loss for every
  weight vector any method evaluated, with the members, soups, SWA and each method's choice
  marked: the loss-metric misalignment the paper builds on.
- ``search__<task>__<model>__<stage1>.png``: best-so-far val metric and hypervolume (val metric,
  -val loss; normalised by the members) against fused evaluations, per search method, mean
  over seeds.
- ``budget__<task>__<model>__<stage1>.png``: test metric against budget for methods a suite lists
  at several budgets (``budget.py``).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from ..bo import apply_normalisation, hypervolume, normalise_objectives, reference_point
from .budget import budget_plot
from .figures import pyplot as _plt, save_figure
from .evidence import table_key, task_label


def _key(r):
    return table_key(r)


def landscape(records: list[dict], path: Path) -> None:
    plt = _plt()
    r0 = records[0]
    p = r0["primary_metric"]
    fig, ax = plt.subplots(figsize=(7, 5))
    pts = [(e["loss"], e["metrics"][p]) for r in records for e in r.get("history", []) if e.get("weights")]
    if pts:
        x, y = zip(*pts)
        ax.scatter(x, y, s=8, c="0.75", label="evaluated weight vectors")
    members = r0["trajectory"]["members_val"]
    ax.scatter([m["loss"] for m in members], [m["metrics"][p] for m in members], s=30, c="tab:blue", label="members")
    for i, m in enumerate(members):
        ax.annotate(str(i), (m["loss"], m["metrics"][p]), fontsize=7, xytext=(2, 2), textcoords="offset points")
    markers = "*PXDv^<>osph"
    for i, r in enumerate(sorted(records, key=lambda r: r.get("label", r["method"]))):
        ax.scatter([r["val"]["loss"]], [r["val"]["metrics"][p]], s=90, marker=markers[i % len(markers)],
                   label=r.get("label", r["method"]), edgecolors="k", linewidths=0.5)
    ax.set_xlabel("val loss")
    ax.set_ylabel(f"val {p}")
    ax.set_title(f"{task_label(r0)} / {r0['model']} / seed {r0['seed']}: val {p} vs val loss")
    ax.legend(fontsize=7, loc="best", ncol=2)
    fig.tight_layout()
    save_figure(fig, path)


def search_curves(records: list[dict], path: Path) -> None:
    plt = _plt()
    p = records[0]["primary_metric"]
    best = defaultdict(list)
    hv = defaultdict(list)
    for r in records:
        hist = [e for e in r.get("history", []) if e.get("weights")]
        if r["costs"].get("budget", 0) == 0 or not hist:
            continue
        label = r.get("label", r["method"])
        members = r["trajectory"]["members_val"]
        ym = torch.tensor([[m["metrics"][p], -m["loss"]] for m in members], dtype=torch.double)
        lo, hi = normalise_objectives(ym)
        ref = reference_point(apply_normalisation(ym, lo, hi))
        seen = [list(row) for row in ym.tolist()]
        b, h = [], []
        for e in hist:
            seen.append([e["metrics"][p], -e["loss"]])
            y = torch.tensor(seen, dtype=torch.double)
            b.append(float(y[:, 0].max()))
            h.append(hypervolume(apply_normalisation(y, lo, hi), ref))
        best[label].append(b)
        hv[label].append(h)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for label in sorted(best):
        n = min(len(c) for c in best[label])
        a1.plot(range(1, n + 1), np.mean([c[:n] for c in best[label]], axis=0), label=label)
        a2.plot(range(1, n + 1), np.mean([c[:n] for c in hv[label]], axis=0), label=label)
    a1.set_xlabel("fused evaluations")
    a1.set_ylabel(f"best val {p} so far (members included)")
    a2.set_xlabel("fused evaluations")
    a2.set_ylabel(f"hypervolume (val {p}, -val loss)")
    a1.legend(fontsize=7)
    r0 = records[0]
    fig.suptitle(f"{task_label(r0)} / {r0['model']}: search progress, mean over seeds")
    fig.tight_layout()
    save_figure(fig, path)


def write_plots(records: list[dict], out_dir: str | Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = defaultdict(list)
    for r in records:
        groups[_key(r)].append(r)
    written = []
    for (task, model, s1), recs in sorted(groups.items()):
        stem = f"{task}__{model}__{s1}"
        first_seed = min(r["seed"] for r in recs)
        path = out_dir / f"landscape__{stem}__seed{first_seed}.png"
        landscape([r for r in recs if r["seed"] == first_seed], path)
        written.append(path)
        path = out_dir / f"search__{stem}.png"
        search_curves(recs, path)
        written.append(path)
        path = out_dir / f"budget__{stem}.png"
        if budget_plot(recs, path, f"{task} / {model} / {s1}: test metric against budget"):
            written.append(path)
    return written
