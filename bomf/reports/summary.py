"""Summaries across tables (tasks, models, stage-1 strategies, suites) from their evidence.

``summary_table``: per method, the number of tables, the mean rank by mean test metric over the
usable seeds (ties share the average rank; sorted as numbers; beside it the mean number of
methods in those tables, since a rank means more among 20 methods than among 3), first places
(a tie for first shares one place), and the Holm-corrected significant wins and losses from every table's
comparisons (a ``better`` verdict of A against reference R is a win for A and a loss for R).
Tables whose every seed is degenerate are left out of the ranks, with a note.

``versus_summary``: BOMF and its variants (every non-baseline) against every baseline: the mean
rank of the method among the baselines (it and the baselines only), and per baseline the count
of significant wins / losses / neither across tables.

Example:
    >>> shared_first({"a": 0.9, "b": 0.9, "c": 0.5})
    {'a': 0.5, 'b': 0.5, 'c': 0.0}
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from .evidence import TableEvidence

TIE = 1e-12


def _means(ev: TableEvidence, labels=None) -> dict[str, float]:
    out = {}
    for label in labels or ev.by_label:
        used = ev.usable_records(label)
        if used:
            out[label] = float(np.mean([r["test"]["metrics"][ev.primary] for r in used]))
    return out


def ranks(means: dict[str, float]) -> dict[str, float]:
    """Rank 1 = best; tied means share the average of their ranks."""
    s = pd.Series(means).round(12)
    return s.rank(ascending=False, method="average").to_dict()


def shared_first(means: dict[str, float]) -> dict[str, float]:
    """One first place per table, shared equally among the methods tied for it."""
    top = max(means.values())
    tied = [label for label, v in means.items() if v >= top - TIE]
    return {label: (1.0 / len(tied) if label in tied else 0.0) for label in means}


def _all_degenerate(ev: TableEvidence) -> bool:
    seeds = {r["seed"] for recs in ev.by_label.values() for r in recs}
    return bool(seeds) and seeds <= set(ev.degenerate)


def _name(key: tuple) -> str:
    return " / ".join(str(k) for k in key if k)


def summary_table(evidences: list[tuple[tuple, TableEvidence]]) -> tuple[pd.DataFrame, list[str]]:
    """The summary across tables and the notes that go under it."""
    rank_of, firsts, sizes = defaultdict(list), defaultdict(float), defaultdict(list)
    wins, losses, tested = defaultdict(int), defaultdict(int), defaultdict(int)
    notes = []
    for key, ev in evidences:
        if _all_degenerate(ev):
            notes.append(f"{_name(key)}: every trajectory is degenerate; left out of the ranks and counts")
            continue
        if ev.degenerate:
            notes.append(f"{_name(key)}: ranks use {len(set(r['seed'] for rs in ev.by_label.values() for r in rs)) - len(ev.degenerate)}"
                         f" seeds; degenerate seeds {', '.join(map(str, sorted(ev.degenerate)))} left out")
        means = _means(ev)
        for label, rank in ranks(means).items():
            rank_of[label].append(rank)
            sizes[label].append(len(means))
        for label, share in shared_first(means).items():
            firsts[label] += share
        for (label, ref), v in ev.verdicts.items():
            if v.verdict in ("better", "worse", "noise"):
                tested[label] += 1
                tested[ref] += 1
            if v.verdict == "better":
                wins[label] += 1
                losses[ref] += 1
            elif v.verdict == "worse":
                losses[label] += 1
                wins[ref] += 1
    rows = [{"method": label, "tables": len(r), "methods per table": float(np.mean(sizes[label])),
             "mean rank": float(np.mean(r)), "first places": firsts[label],
             "significant wins": wins[label], "significant losses": losses[label], "comparisons": tested[label]}
            for label, r in rank_of.items()]
    df = pd.DataFrame(rows, columns=["method", "tables", "methods per table", "mean rank", "first places",
                                     "significant wins", "significant losses", "comparisons"])
    df = df.sort_values(["mean rank", "method"]).reset_index(drop=True)
    df["mean rank"] = df["mean rank"].map(lambda v: f"{v:.2f}")
    df["methods per table"] = df["methods per table"].map(lambda v: f"{v:.1f}".rstrip("0").rstrip("."))
    df["first places"] = df["first places"].map(lambda v: f"{v:.2f}".rstrip("0").rstrip("."))
    notes.insert(0, "wins and losses: Holm-corrected verdicts of each table's comparisons (against its reference); "
                    "first places: a tie shares the place; mean rank: 1 = best, ties share the average rank")
    return df, notes


def versus_summary(versus: list[tuple[tuple, TableEvidence]]) -> pd.DataFrame:
    """Per non-baseline method: mean rank among the baselines, and wins/losses/neither per baseline."""
    counts = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    rank_of = defaultdict(list)
    baselines = sorted({ref for _, ev in versus for ref in ev.references})
    for _, ev in versus:
        if _all_degenerate(ev):
            continue
        for (label, ref), v in ev.verdicts.items():
            slot = 0 if v.verdict == "better" else 1 if v.verdict == "worse" else 2
            counts[label][ref][slot] += 1
        challengers = sorted({label for label, _ in ev.verdicts})
        for label in challengers:
            means = _means(ev, [label] + ev.references)
            if label in means:
                rank_of[label].append(ranks(means)[label])
    rows = []
    for label in sorted(counts, key=lambda lab: (np.mean(rank_of[lab]) if rank_of[lab] else np.inf, lab)):
        row = {"method": label, "tables": len(rank_of[label]),
               f"mean rank among {len(baselines) + 1}": f"{np.mean(rank_of[label]):.2f}" if rank_of[label] else ""}
        for ref in baselines:
            w, lose, n = counts[label][ref]
            row[f"vs {ref} (W/L/-)"] = f"{w}/{lose}/{n}"
        rows.append(row)
    return pd.DataFrame(rows)
