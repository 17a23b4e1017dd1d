"""Tables from stored records alone: per task, one row per method, and a summary across tasks.

Each row: test metric(s) mean +- std over seeds, test loss, val metric, fused evaluations,
fusion seconds, stage-1 seconds, total cost relative to one fine-tuning run, and a paired
bootstrap of the method against the best baseline (the baseline with the best mean test
metric): the difference, its 95% interval, p, and a verdict: ``better`` / ``worse`` when the
interval excludes 0, else ``noise``. Markdown, CSV and LaTeX; the same records give the same
bytes (fixed bootstrap seed, fixed formatting, fixed order).

Example:
    >>> fmt_pm([0.8, 0.82, 0.81])
    '0.8100 ± 0.0100'
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from ..core.atomic import write_text
from .stats import paired_bootstrap

N_BOOT = 2000


def fmt_pm(values, digits: int = 4) -> str:
    v = np.asarray(values, dtype=float)
    std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return f"{v.mean():.{digits}f} ± {std:.{digits}f}"


def is_baseline(label: str, method: str) -> bool:
    """Baselines are the methods defined in the ``baselines`` package (not BOMF or its ablations)."""
    from ..fusion import get_method

    try:
        # bomf.baselines once installed (or editable), baselines from a bare checkout on sys.path
        return get_method(method).fn.__module__.startswith(("baselines.", "bomf.baselines."))
    except Exception:
        return False


def flatten(records: list[dict]) -> pd.DataFrame:
    rows = []
    for r in records:
        p = r["primary_metric"]
        tc = r["trajectory"]["costs"]
        train_s = tc["train_seconds"] + tc.get("member_eval_seconds", 0.0)
        stage1_s = r.get("stage1", {}).get("costs", {}).get("seconds", 0.0)
        fusion_s = r["costs"]["method_seconds"]
        row = {
            "suite": r.get("suite", ""), "task": r["task"], "model": r["model"],
            "stage1": r.get("stage1", {}).get("strategy", "default"), "label": r.get("label", r["method"]),
            "method": r["method"], "seed": r["seed"], "primary": p,
            "test_loss": r["test"]["loss"], "val_primary": r["val"]["metrics"][p], "val_loss": r["val"]["loss"],
            "evals": r["costs"]["fused_evaluations"], "fusion_s": fusion_s, "stage1_s": stage1_s, "train_s": train_s,
            "cost_x_ft": (stage1_s + train_s + fusion_s) / train_s if train_s > 0 else float("nan"),
        }
        for m, v in r["test"]["metrics"].items():
            row[f"test_{m}"] = v
        rows.append(row)
    return pd.DataFrame(rows)


def _group_tables(records: list[dict]):
    groups = defaultdict(list)
    for r in records:
        groups[(r["task"], r["model"], r.get("stage1", {}).get("strategy", "default"))].append(r)
    return dict(sorted(groups.items()))


def task_table(records: list[dict]) -> pd.DataFrame:
    """One table (task, model, stage 1): a row per method label, in a fixed order."""
    df = flatten(records)
    primary = df["primary"].iloc[0]
    metrics = [c[5:] for c in df.columns if c.startswith("test_") and c != "test_loss"]
    metrics = [primary] + sorted(m for m in metrics if m != primary)
    by_label = {label: [r for r in records if r.get("label", r["method"]) == label] for label in sorted(df["label"].unique())}
    means = df.groupby("label")[f"test_{primary}"].mean()
    baselines = [l for l in by_label if is_baseline(l, by_label[l][0]["method"])]
    ref = max(baselines, key=lambda l: (means[l], l)) if baselines else None
    ref_by_seed = {r["seed"]: r for r in by_label.get(ref, [])}
    rows = []
    for label, recs in by_label.items():
        sub = df[df["label"] == label]
        row = {"method": label, "seeds": len(sub)}
        for m in metrics:
            row[f"test {m}"] = fmt_pm(sub[f"test_{m}"])
        row["test loss"] = fmt_pm(sub["test_loss"])
        row[f"val {primary}"] = f"{sub['val_primary'].mean():.4f}"
        row["evals"] = f"{sub['evals'].mean():.0f}"
        row["fusion s"] = f"{sub['fusion_s'].mean():.1f}"
        row["stage-1 s"] = f"{sub['stage1_s'].mean():.0f}"
        row["cost x FT"] = f"{sub['cost_x_ft'].mean():.2f}"
        if ref is None or label == ref:
            row[f"vs {ref or 'baseline'}"] = "reference" if label == ref else ""
        else:
            pairs = [(r, ref_by_seed[r["seed"]]) for r in sorted(recs, key=lambda r: r["seed"]) if r["seed"] in ref_by_seed]
            row[f"vs {ref}"] = compare(primary, pairs)
        rows.append(row)
    out = pd.DataFrame(rows)
    order = out[f"test {primary}"].str.split(" ").str[0].astype(float)
    return out.assign(_o=-order).sort_values(["_o", "method"]).drop(columns="_o").reset_index(drop=True)


def compare(primary: str, pairs: list[tuple[dict, dict]]) -> str:
    """Paired bootstrap of A - B over test examples (all seeds) as one cell: diff [95%] p verdict."""
    if all("example_scores" in a["test"] and "example_scores" in b["test"] for a, b in pairs):
        # Generation metrics are means of per-example scores: resample those directly.
        res = paired_bootstrap("mean", [a["test"]["example_scores"][primary] for a, _ in pairs],
                               [b["test"]["example_scores"][primary] for _, b in pairs],
                               [[0.0] * len(a["test"]["example_scores"][primary]) for a, _ in pairs],
                               n_boot=N_BOOT, seed=0)
    else:
        res = paired_bootstrap(primary, [a["test"]["predictions"] for a, _ in pairs],
                               [b["test"]["predictions"] for _, b in pairs],
                               [a["test"]["labels"] for a, _ in pairs], n_boot=N_BOOT, seed=0)
    verdict = "better" if res["low"] > 0 else "worse" if res["high"] < 0 else "noise"
    return f"{res['diff']:+.4f} [{res['low']:+.4f}, {res['high']:+.4f}] p={res['p']:.3f} {verdict}"


def stage1_table(records: list[dict]) -> pd.DataFrame:
    """Stage-1 strategies side by side for one (task, model, method): the search's cost (trials,
    optimizer steps, seconds, FLOPs, FLOPs relative to ``hpbo_full``), the hyperparameters it
    chose per seed, the resulting test metric, and a paired bootstrap against ``hpbo_full``
    (else ``default``) over the same test examples."""
    primary = records[0]["primary_metric"]
    by_strategy = defaultdict(list)
    for r in records:
        by_strategy[r.get("stage1", {}).get("strategy", "default")].append(r)
    ref = "hpbo_full" if "hpbo_full" in by_strategy else "default" if "default" in by_strategy else None
    ref_flops = np.mean([r["stage1"]["costs"].get("flops_estimate", 0) for r in by_strategy.get(ref, [])] or [0])
    ref_by_seed = {r["seed"]: r for r in by_strategy.get(ref, [])}
    rows = []
    for strategy, recs in sorted(by_strategy.items()):
        recs = sorted(recs, key=lambda r: r["seed"])
        costs = [r.get("stage1", {}).get("costs", {}) for r in recs]
        flops = np.mean([c.get("flops_estimate", 0) for c in costs])
        chosen = [r.get("stage1", {}).get("info", {}).get("chosen") for r in recs]
        row = {"stage 1": strategy, "seeds": len(recs),
               f"test {primary}": fmt_pm([r["test"]["metrics"][primary] for r in recs]),
               "test loss": fmt_pm([r["test"]["loss"] for r in recs]),
               "trials": f"{np.mean([c.get('trials', 0) for c in costs]):.1f}",
               "steps": f"{np.mean([c.get('optimizer_steps', 0) for c in costs]):.0f}",
               "search s": f"{np.mean([c.get('seconds', 0.0) for c in costs]):.0f}",
               "search TFLOPs": f"{flops / 1e12:.2f}",
               f"FLOPs / {ref}": f"{flops / ref_flops:.2f}" if ref_flops > 0 else "",
               "chosen lr, batch": "; ".join(f"{c['lr']:.1e}, {c['batch_size']}" if c else "suite's" for c in chosen)}
        if strategy == ref:
            row[f"vs {ref}"] = "reference"
        else:
            pairs = [(r, ref_by_seed[r["seed"]]) for r in recs if r["seed"] in ref_by_seed]
            row[f"vs {ref}"] = compare(primary, pairs) if pairs else ""
        rows.append(row)
    return pd.DataFrame(rows)


def summary_table(records: list[dict]) -> pd.DataFrame:
    """Across tables: mean rank of each method by mean test metric, wins, significant wins."""
    ranks, wins, sig = defaultdict(list), defaultdict(int), defaultdict(int)
    for _, recs in _group_tables(records).items():
        table = task_table(recs)
        primary_col = [c for c in table.columns if c.startswith("test ")][0]
        means = table[primary_col].str.split(" ").str[0].astype(float)
        r = means.rank(ascending=False, method="average")
        for label, rank, vs in zip(table["method"], r, table.iloc[:, -1]):
            ranks[label].append(rank)
            wins[label] += int(rank == 1)
            sig[label] += int(str(vs).endswith("better"))
    rows = [{"method": l, "tables": len(ranks[l]), "mean rank": f"{np.mean(ranks[l]):.2f}", "wins": wins[l],
             "significantly better than best baseline": sig[l]} for l in ranks]
    return pd.DataFrame(rows).sort_values(["mean rank", "method"]).reset_index(drop=True)


def write_tables(records: list[dict], out_dir: str | Path, title: str = "") -> list[Path]:
    """Write every table as .md, .csv and .tex (plus an index ``README.md``); return the paths."""
    out_dir = Path(out_dir)
    written, sections = [], [f"# Results: {title}\n" if title else "# Results\n",
                             "Mean ± std over seeds; `vs X`: paired bootstrap over test examples (2000 "
                             "replicates) of the primary test metric against the best baseline X: difference, "
                             "95% interval, p, and the verdict (`noise` when the interval contains 0).\n"]
    tables = [(f"{t}__{m}__{s}", f"{t} / {m} / stage 1: {s}", task_table(recs))
              for (t, m, s), recs in _group_tables(records).items()]
    by_method = defaultdict(list)
    for r in records:
        by_method[(r["task"], r["model"], r.get("label", r["method"]))].append(r)
    for (t, m, label), recs in sorted(by_method.items()):
        if len({r.get("stage1", {}).get("strategy", "default") for r in recs}) > 1:
            tables.append((f"stage1__{t}__{m}__{label}", f"{t} / {m} / {label}: stage-1 strategies compared",
                           stage1_table(recs)))
    tables.append(("summary", "summary across tables", summary_table(records)))
    for stem, heading, df in tables:
        md = tabulate(df, headers="keys", tablefmt="github", showindex=False, disable_numparse=True)
        for ext, text in ((".md", md + "\n"), (".csv", df.to_csv(index=False)),
                          (".tex", tabulate(df, headers="keys", tablefmt="latex_booktabs", showindex=False,
                                            disable_numparse=True) + "\n")):
            write_text(out_dir / f"{stem}{ext}", text)
            written.append(out_dir / f"{stem}{ext}")
        sections.append(f"## {heading}\n\n{md}\n")
    write_text(out_dir / "README.md", "\n".join(sections))
    written.append(out_dir / "README.md")
    return written
