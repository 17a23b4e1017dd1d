"""Tables from stored records alone: per task, one row per method, and summaries across tables.

Each row of a task table: the seeds used, test metric(s) mean ± std over those seeds, test loss,
val metric, fused evaluations, fusion seconds, stage-1 seconds, total cost relative to one
fine-tuning run, flags (uncommitted code, BO fallbacks), and for each reference of the table
(``evidence.py``: named by the suite, else the baseline with the best mean *val* metric) the
paired comparison: difference [95% interval], Holm-adjusted p, verdict, and the minimum
detectable difference (MDE). Notes under a table say which seeds were left out (degenerate
trajectories) and how test examples were resampled. ``docs/statistics.md`` has the method.
Markdown, CSV and LaTeX; the same records give the same bytes (fixed bootstrap seed, fixed
formatting, fixed order).

Example:
    >>> fmt_pm([0.8, 0.82, 0.81])
    '0.8100 ± 0.0100'
    >>> fmt_mde(0.01234), fmt_mde(float("nan")), fmt_mde(16.8)
    ('0.0123', '', '> 1')
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from ..core.atomic import write_text
from .evidence import N_BOOT, TableEvidence, fallback_reasons, fallback_steps, is_baseline, label_of, table_evidence, table_key, task_label
from .budget import budget_table
from .summary import summary_table, versus_summary

HEADER = (
    "Mean ± std over the seeds used. `vs X`: the paired difference of the primary test metric "
    "against reference X (mean over seeds) with its 95% interval; the interval includes seed-to-seed "
    f"variance and test-set noise (cluster bootstrap, {N_BOOT} replicates; t with Satterthwaite df). "
    "The reference is named by the suite or else the baseline with the best mean *val* metric (no "
    "test data). `p (Holm)`: p adjusted over every comparison in the table; verdict `better`/`worse` "
    "when it is < 0.05, `identical` when both made the same predictions, else `noise`. `MDE`: the "
    "difference the comparison detects with 80% power at family-wise 0.05; `noise` means no difference "
    "larger than about that. Flags: `dirty` = made from uncommitted code, `fallback` = BO steps that "
    "fell back to a fresh point, by reason (`repeat`: the GP chose a point already evaluated, not a "
    "failure; any other reason: the GP step failed). Method: docs/statistics.md.\n"
)


def fmt_pm(values, digits: int = 4) -> str:
    v = np.asarray(values, dtype=float)
    std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return f"{v.mean():.{digits}f} ± {std:.{digits}f}"


def fmt_mde(value: float) -> str:
    """The MDE; ``> 1`` when it exceeds any metric's range (the comparison can detect nothing)."""
    if value is None or math.isnan(value):
        return ""
    return "> 1" if value > 1 else f"{value:.4f}"


def flags(records: list[dict]) -> str:
    """Cells from uncommitted code and cells whose BO fell back to random points."""
    out = []
    dirty = sum(bool(r.get("git_dirty")) for r in records)
    if dirty:
        out.append(f"dirty {dirty}/{len(records)}")
    fallbacks = [fallback_steps(r) for r in records]
    if any(fallbacks):
        why: dict[str, int] = defaultdict(int)
        for r in records:
            for reason, n in fallback_reasons(r).items():
                why[reason] += n
        reasons = f" ({', '.join(f'{k} {v}' for k, v in sorted(why.items()))})" if why else ""
        out.append(f"fallback {sum(fallbacks)} steps{reasons} in {sum(f > 0 for f in fallbacks)}/{len(records)}")
    return "; ".join(out)


def _group_tables(records: list[dict]) -> dict[tuple, list[dict]]:
    groups = defaultdict(list)
    for r in records:
        groups[table_key(r)].append(r)
    return dict(sorted(groups.items()))


def _comparison_columns(ev: TableEvidence, label: str) -> dict:
    row = {}
    for ref in ev.references:
        if label == ref:
            row.update({f"vs {ref}": "reference", f"p (Holm) vs {ref}": "", f"verdict vs {ref}": "",
                        f"MDE vs {ref}": ""})
            continue
        v = ev.verdicts.get((label, ref))
        row[f"vs {ref}"] = v.cell() if v else ""
        row[f"p (Holm) vs {ref}"] = f"{v.p_holm:.3f}" if v and not math.isnan(v.p_holm) else ""
        row[f"verdict vs {ref}"] = v.verdict if v else ""
        row[f"MDE vs {ref}"] = fmt_mde(v.mde) if v else ""
    return row


def task_table(records: list[dict], references: list[str] | None = None,
               evidence: TableEvidence | None = None) -> pd.DataFrame:
    """One table (task, model, stage 1): a row per method label, sorted by mean test metric."""
    ev = evidence or table_evidence(records, references)
    primary = ev.primary
    metrics = sorted({m for r in records for m in r["test"]["metrics"]} - {primary})
    metrics = [primary] + metrics
    rows = []
    for label, recs in ev.by_label.items():
        used = ev.usable_records(label) or recs
        row = {"method": label,
               "seeds": f"{len(used)}" if len(used) == len(recs) else f"{len(used)} of {len(recs)}"}
        for m in metrics:
            row[f"test {m}"] = fmt_pm([r["test"]["metrics"][m] for r in used])
        row["test loss"] = fmt_pm([r["test"]["loss"] for r in used])
        row[f"val {primary}"] = f"{np.mean([r['val']['metrics'][primary] for r in used]):.4f}"
        row["evals"] = f"{np.mean([r['costs']['fused_evaluations'] for r in used]):.0f}"
        row["fusion s"] = f"{np.mean([r['costs']['method_seconds'] for r in used]):.1f}"
        row["stage-1 s"] = f"{np.mean([_stage1_seconds(r) for r in used]):.0f}"
        row["cost x FT"] = f"{np.mean([_cost_x_ft(r) for r in used]):.2f}"
        row["flags"] = flags(recs)
        row.update(_comparison_columns(ev, label))
        rows.append(row)
    out = pd.DataFrame(rows)
    order = out[f"test {primary}"].str.split(" ").str[0].astype(float)
    return out.assign(_o=-order).sort_values(["_o", "method"]).drop(columns="_o").reset_index(drop=True)


def _stage1_seconds(r: dict) -> float:
    return r.get("stage1", {}).get("costs", {}).get("seconds", 0.0)


def _cost_x_ft(r: dict) -> float:
    tc = r["trajectory"]["costs"]
    train_s = tc["train_seconds"] + tc.get("member_eval_seconds", 0.0)
    total = _stage1_seconds(r) + train_s + r["costs"]["method_seconds"]
    return total / train_s if train_s > 0 else float("nan")


def stage1_table(records: list[dict]) -> pd.DataFrame:
    """Stage-1 strategies side by side for one (task, model, method): the search's cost (trials,
    optimizer steps, seconds, FLOPs, FLOPs relative to ``hpbo_full``), the hyperparameters it
    chose per seed, the resulting test metric, and the paired comparison against ``hpbo_full``
    (else ``default``; named in advance, not chosen by results) over the same test examples."""
    primary = records[0]["primary_metric"]
    by_strategy = defaultdict(list)
    for r in records:
        by_strategy[r.get("stage1", {}).get("strategy", "default")].append(r)
    ref = "hpbo_full" if "hpbo_full" in by_strategy else "default" if "default" in by_strategy else None
    ev = table_evidence([{**r, "label": r.get("stage1", {}).get("strategy", "default")} for r in records],
                        references=[ref] if ref else None)
    ref_flops = np.mean([r["stage1"]["costs"].get("flops_estimate", 0) for r in by_strategy.get(ref, [])] or [0])
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
        row.update(_comparison_columns(ev, strategy))
        rows.append(row)
    return pd.DataFrame(rows)


def versus_table(ev: TableEvidence) -> pd.DataFrame:
    """BOMF and its variants (every non-baseline) against every baseline of one table: a row per
    (challenger, baseline) with the paired difference, Holm-adjusted p over this table's pairs,
    verdict and MDE."""
    rows = []
    for (label, ref), v in sorted(ev.verdicts.items()):
        rows.append({"method": label, "baseline": ref, "diff [95% CI]": v.cell(),
                     "p (Holm)": f"{v.p_holm:.3f}" if not math.isnan(v.p_holm) else "", "verdict": v.verdict,
                     "MDE": fmt_mde(v.mde)})
    return pd.DataFrame(rows, columns=["method", "baseline", "diff [95% CI]", "p (Holm)", "verdict", "MDE"])


def versus_evidence(records: list[dict]) -> TableEvidence | None:
    """Every non-baseline against every baseline (one Holm family), or None if either is missing."""
    labels = {label_of(r): r["method"] for r in records}
    baselines = sorted(lab for lab, m in labels.items() if is_baseline(m))
    challengers = sorted(lab for lab in labels if lab not in baselines)
    if not baselines or not challengers:
        return None
    return table_evidence(records, references=baselines, challengers=challengers)


def _markdown(df: pd.DataFrame) -> str:
    return tabulate(df, headers="keys", tablefmt="github", showindex=False, disable_numparse=True)


def _write_table(out_dir: Path, stem: str, df: pd.DataFrame, notes: list[str]) -> list[Path]:
    md = _markdown(df)
    note_md = "".join(f"\n- {n}" for n in notes)
    written = []
    for ext, text in ((".md", md + "\n" + (note_md + "\n" if notes else "")), (".csv", df.to_csv(index=False)),
                      (".tex", tabulate(df, headers="keys", tablefmt="latex_booktabs", showindex=False,
                                        disable_numparse=True) + "\n")):
        write_text(out_dir / f"{stem}{ext}", text)
        written.append(out_dir / f"{stem}{ext}")
    return written


def write_summary_across_suites(records_by_suite: dict[str, list[dict]], references: dict[str, list[str]],
                                out_dir: str | Path) -> list[Path]:
    """``summary`` and ``versus`` over every table of several suites (each with its own references)."""
    out_dir = Path(out_dir)
    evidences, versus = [], []
    for suite, records in sorted(records_by_suite.items()):
        for key, recs in _group_tables(records).items():
            evidences.append(((suite, *key), table_evidence(recs, references.get(suite))))
            vs = versus_evidence(recs)
            if vs is not None:
                versus.append(((suite, *key), vs))
    df, notes = summary_table(evidences)
    names = ", ".join(sorted(records_by_suite))
    written = _write_table(out_dir, "summary", df, [f"suites: {names}"] + notes)
    if versus:
        written += _write_table(out_dir, "versus", versus_summary(versus), [f"suites: {names}"])
    return written


def write_tables(records: list[dict], out_dir: str | Path, title: str = "",
                 references: list[str] | None = None) -> list[Path]:
    """Write every table as .md, .csv and .tex (plus an index ``README.md``); return the paths.

    ``references``: the suite's named references (else each table picks its own by val).
    """
    out_dir = Path(out_dir)
    written, sections = [], [f"# Results: {title}\n" if title else "# Results\n", HEADER]
    tables, evidences, versus = [], [], []
    for (t, m, s), recs in _group_tables(records).items():
        ev = table_evidence(recs, references)
        evidences.append(((recs[0].get("suite", ""), t, m, s), ev))
        notes = ([f"Reference: {', '.join(ev.references) or 'none'} ({ev.reference_rule}); "
                  f"{ev.family} comparisons in the Holm family."] + ev.notes)
        tables.append((f"{t}__{m}__{s}", f"{t} / {m} / stage 1: {s}", task_table(recs, evidence=ev), notes))
        curve = budget_table(recs)
        if curve is not None:
            tables.append((f"budget__{t}__{m}__{s}", f"{t} / {m} / stage 1: {s}: test metric against budget", curve,
                           ["a method listed at several budgets (same options); degenerate seeds left out"]))
        vs = versus_evidence(recs)
        if vs is not None:
            versus.append(((recs[0].get("suite", ""), t, m, s), vs))
            tables.append((f"versus__{t}__{m}__{s}", f"{t} / {m} / stage 1: {s}: BOMF and variants vs every baseline",
                           versus_table(vs), [f"{vs.family} comparisons in the Holm family."] + vs.notes))
    by_method = defaultdict(list)
    for r in records:
        by_method[(task_label(r), r["model"], label_of(r))].append(r)
    for (t, m, label), recs in sorted(by_method.items()):
        if len({r.get("stage1", {}).get("strategy", "default") for r in recs}) > 1:
            tables.append((f"stage1__{t}__{m}__{label}", f"{t} / {m} / {label}: stage-1 strategies compared",
                           stage1_table(recs), []))
    summary, summary_notes = summary_table(evidences)
    tables.append(("summary", "summary across tables", summary, summary_notes))
    if versus:
        tables.append(("versus", "BOMF and variants vs every baseline, across tables", versus_summary(versus), []))
    for stem, heading, df, notes in tables:
        md = _markdown(df)
        note_md = "".join(f"\n- {n}" for n in notes)
        written += _write_table(out_dir, stem, df, notes)
        sections.append(f"## {heading}\n\n{md}\n{note_md}\n" if notes else f"## {heading}\n\n{md}\n")
    write_text(out_dir / "README.md", "\n".join(sections))
    written.append(out_dir / "README.md")
    return written
