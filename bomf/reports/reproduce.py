"""Did your run reproduce the reference? Per table and method: the paired difference, a verdict.

For each table (task, model, stage 1) and method label present in both your records and the
reference's, the seeds both hold are paired: the same test examples scored by your model and by
the reference's, compared as the tables compare methods (``bomf.reports.stats.paired_comparison``:
test examples resampled by cluster, seed-to-seed variance included). The difference is yours - reference in the primary test metric, with its 95%
interval, and the verdict is

- ``reproduced within noise`` when the interval contains 0 (``identical`` is added when every
  test prediction is the same: CPU runs of the same configuration should give that),
- ``differs`` when it does not,
- ``not comparable`` when the two were scored on different test examples (other limits).

A method or seed only one side has is listed as missing, never silently dropped.

Example:
    >>> gold = [0, 1] * 50
    >>> rec = lambda preds, label="m": {"task": "t", "model": "x", "label": label, "method": label, "seed": 0,
    ...     "primary_metric": "accuracy", "stage1": {"strategy": "default"},
    ...     "test": {"metrics": {"accuracy": sum(p == g for p, g in zip(preds, gold)) / 100},
    ...              "predictions": preds, "labels": gold}}
    >>> rows = compare_runs([rec(gold)], [rec(gold)])
    >>> rows[0]["verdict"]
    'reproduced within noise (identical)'
    >>> compare_runs([rec([1 - g for g in gold])], [rec(gold)])[0]["verdict"]
    'differs'
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .evidence import label_of, table_key, test_clusters
from .stats import paired_comparison

N_BOOT = 2000
REPRODUCED = "reproduced within noise"
DIFFERS = "differs"


def _scored(r: dict, primary: str):
    """(per-example predictions or scores, gold labels, bootstrap metric name) of a record's test split."""
    test = r["test"]
    if "example_scores" in test and primary in test["example_scores"]:
        scores = test["example_scores"][primary]
        return scores, [0.0] * len(scores), "mean"  # generation metrics are means of per-example scores
    return test["predictions"], test["labels"], primary


def compare_pairs(primary: str, pairs: list[tuple[dict, dict]]) -> dict:
    """One method: yours - reference over the paired seeds, its interval and the verdict."""
    mine = [_scored(a, primary) for a, _ in pairs]
    theirs = [_scored(b, primary) for _, b in pairs]
    if any(len(a[0]) != len(b[0]) or list(a[1]) != list(b[1]) for a, b in zip(mine, theirs)):
        return {"diff": None, "low": None, "high": None, "verdict": "not comparable (different test examples)"}
    # The tables' comparison: seeds as a random effect, test examples resampled by cluster.
    clusters, _ = test_clusters(pairs[0][1])
    res = paired_comparison(mine[0][2], [a[0] for a in mine], [b[0] for b in theirs], [a[1] for a in mine],
                            n_boot=N_BOOT, seed=0, clusters=clusters)
    identical = all(np.array_equal(np.asarray(a[0]), np.asarray(b[0])) for a, b in zip(mine, theirs))
    within = res.low <= 0 <= res.high
    verdict = (REPRODUCED + (" (identical)" if identical else "")) if within else DIFFERS
    return {"diff": res.diff, "low": res.low, "high": res.high, "verdict": verdict}


def compare_runs(yours: list[dict], reference: list[dict]) -> list[dict]:
    """A row per (table, method) present on either side, in a fixed order."""
    mine, ref = defaultdict(dict), defaultdict(dict)
    for side, records in ((mine, yours), (ref, reference)):
        for r in records:
            side[(table_key(r), label_of(r))][r["seed"]] = r  # the tables' grouping: regimes stay apart
    rows = []
    for key in sorted(set(mine) | set(ref)):
        (task, model, stage1), label = key
        a, b = mine.get(key, {}), ref.get(key, {})
        seeds = sorted(set(a) & set(b))
        row = {"table": f"{task} / {model} / {stage1}", "method": label, "seeds": len(seeds)}
        if not seeds:
            row.update(diff=None, low=None, high=None,
                       verdict="only in your run" if a else "not in your run")
            rows.append(row)
            continue
        primary = b[seeds[0]]["primary_metric"]
        pairs = [(a[s], b[s]) for s in seeds]
        row["metric"] = primary
        row["yours"] = float(np.mean([x["test"]["metrics"][primary] for x, _ in pairs]))
        row["reference"] = float(np.mean([y["test"]["metrics"][primary] for _, y in pairs]))
        row.update(compare_pairs(primary, pairs))
        missing = sorted((set(a) | set(b)) - set(seeds))
        if missing:
            row["verdict"] += f"; seeds {missing} on one side only"
        rows.append(row)
    return rows


def render(rows: list[dict]) -> str:
    """Markdown: one table per (task, model, stage 1), then one verdict line per table and overall."""
    from tabulate import tabulate

    out = []
    by_table = defaultdict(list)
    for row in rows:
        by_table[row["table"]].append(row)
    counts = defaultdict(int)
    for table, trows in by_table.items():
        metric = next((r["metric"] for r in trows if "metric" in r), "metric")
        body = [(r["method"], r["seeds"], _num(r.get("yours")), _num(r.get("reference")), _interval(r), r["verdict"])
                for r in trows]
        out.append(f"### {table}\n")
        out.append(tabulate(body, headers=["method", "seeds", f"yours: test {metric}", "reference", "yours - reference [95%]",
                                           "verdict"], tablefmt="github", disable_numparse=True))
        n_same = sum(r["verdict"].startswith(REPRODUCED) for r in trows)
        n_diff = sum(r["verdict"].startswith(DIFFERS) for r in trows)
        counts["same"] += n_same
        counts["diff"] += n_diff
        counts["all"] += len(trows)
        out.append(f"\n{table}: {n_same} of {len(trows)} methods reproduced within noise, {n_diff} differ.\n")
    out.append(f"Overall: {counts['same']} of {counts['all']} (table, method) pairs reproduced within noise, "
               f"{counts['diff']} differ, {counts['all'] - counts['same'] - counts['diff']} not compared.")
    return "\n".join(out) + "\n"


def _num(x) -> str:
    return "" if x is None else f"{x:.4f}"


def _interval(r: dict) -> str:
    if r.get("diff") is None:
        return ""
    return f"{r['diff']:+.4f} [{r['low']:+.4f}, {r['high']:+.4f}]"
