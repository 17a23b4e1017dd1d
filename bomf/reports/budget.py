"""Budget curves: how a search method's test metric moves with its budget of fused evaluations.

A suite gets a budget curve by listing one method (same options) at several budgets, e.g.
variants ``bomf_b8``, ``bomf_b16`` with ``budget = 8`` / ``16`` beside ``bomf`` at the suite's
budget. Records with the same method and options but different budgets form a *family*; each
family with two or more budgets becomes rows of ``budget__<table>`` and a line of
``budget__<table>.png`` (mean test metric over seeds, ± std), drawn beside ``last`` and ``best``.

Example:
    >>> recs = [{"method": "bomf", "label": f"bomf_b{b}", "request": {"budget": b, "options": {"n_init": 8}}}
    ...         for b in (8, 16)]
    >>> [(name, sorted(by_budget)) for name, by_budget in families(recs).items()]
    [('bomf', [8, 16])]
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pandas as pd

from .evidence import degenerate, label_of


def families(records: list[dict]) -> dict[str, dict[int, list[dict]]]:
    """method (with options) -> budget -> records, for families with at least two budgets."""
    groups: dict[tuple, dict[int, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        req = r.get("request", {})
        if not req.get("budget"):
            continue
        groups[(r["method"], json.dumps(req.get("options", {}), sort_keys=True, default=str))][req["budget"]].append(r)
    kept = {key: by_budget for key, by_budget in sorted(groups.items()) if len(by_budget) >= 2}
    methods = [method for method, _ in kept]
    out = {}
    for (method, options), by_budget in kept.items():
        # named by its method; two families of one method (other options): by the largest budget's label
        name = method if methods.count(method) == 1 else label_of(by_budget[max(by_budget)][0])
        out[name] = dict(sorted(by_budget.items()))
    return out


def _usable(records: list[dict]) -> list[dict]:
    kept = [r for r in records if not degenerate(r)]
    return kept or records


def budget_table(records: list[dict]) -> pd.DataFrame | None:
    """Rows (family, budget): label, seeds, test metric mean ± std, val metric, fusion seconds."""
    fam = families(records)
    if not fam:
        return None
    primary = records[0]["primary_metric"]
    rows = []
    for name, by_budget in fam.items():
        for budget, recs in by_budget.items():
            used = _usable(recs)
            test = np.array([r["test"]["metrics"][primary] for r in used])
            rows.append({"method": name, "budget": budget, "label": label_of(recs[0]), "seeds": len(used),
                         f"test {primary}": f"{test.mean():.4f} ± {test.std(ddof=1) if len(test) > 1 else 0.0:.4f}",
                         f"val {primary}": f"{np.mean([r['val']['metrics'][primary] for r in used]):.4f}",
                         "fusion s": f"{np.mean([r['costs']['method_seconds'] for r in used]):.1f}"})
    return pd.DataFrame(rows)


def budget_plot(records: list[dict], path, title: str) -> bool:
    """Mean test metric against budget per family (error bars: std over seeds); False if no family."""
    fam = families(records)
    if not fam:
        return False
    from .figures import pyplot, save_figure

    plt = pyplot()
    primary = records[0]["primary_metric"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, by_budget in fam.items():
        budgets = sorted(by_budget)
        vals = [[r["test"]["metrics"][primary] for r in _usable(by_budget[b])] for b in budgets]
        ax.errorbar(budgets, [np.mean(v) for v in vals], yerr=[np.std(v, ddof=1) if len(v) > 1 else 0 for v in vals],
                    marker="o", capsize=3, label=name)
    for ref, style in (("last", ":"), ("best", "--")):
        recs = _usable([r for r in records if label_of(r) == ref])
        if recs:
            ax.axhline(np.mean([r["test"]["metrics"][primary] for r in recs]), color="0.4", linestyle=style, label=ref)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("budget (fused evaluations)")
    ax.set_ylabel(f"test {primary} (mean over seeds, ± std)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    return True
