"""What one table's verdicts rest on: usable seeds, the reference, paired comparisons, Holm.

One table = the records of one (task, model, stage 1), one row per method label. This module
decides, from the records alone:

- **usable seeds**: a seed whose trajectory is degenerate (``bomf.training.degenerate``: every
  member predicts one class, or the primary val metric is equal for every member) compares
  methods on noise; it is flagged and left out of the comparisons and of the summary ranks;
- **the reference**: the suite may name references (``references = ["last", "best"]``);
  otherwise it is the baseline with the best mean *val* primary metric over the usable seeds
  (ties: lower val loss, then the name). Test data never enters the choice;
- **comparisons**: every other method against every reference on their common usable seeds
  (``stats.paired_comparison``: seed and test-set variance, clusters where the task declares
  them), Holm-corrected over the table's family; the verdict is ``better`` / ``worse`` when
  the Holm-adjusted p < 0.05, ``identical`` when both made the same predictions in every seed
  (no test, not counted in the family), else ``noise``; beside it the minimum detectable
  difference at 80% power at the Bonferroni level 0.05 / m, which Holm never exceeds, so
  ``noise`` reads "no difference larger than MDE";
- **flags**: cells from uncommitted code (``git_dirty``), cells whose BO fell back to random
  points (a count in ``record["info"]``).

Example:
    >>> rec = {"trajectory": {"members_val": [{"metrics": {"f1": 0.0}}, {"metrics": {"f1": 0.0}}]},
    ...        "primary_metric": "f1"}
    >>> degenerate(rec)
    'the val f1 is 0.0000 for every member'
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..training.degenerate import degenerate_reason
from .stats import Comparison, Draws, combine, holm, make_draws, min_detectable, replicate_values

N_BOOT = 2000
ALPHA = 0.05
POWER = 0.8
# Names under which a search method may count BO steps that fell back to random points.
FALLBACK_KEYS = ("fallback_steps", "fallbacks", "bo_fallbacks", "n_fallbacks", "random_fallbacks")


def label_of(record: dict) -> str:
    return record.get("label", record["method"])


def task_label(record: dict) -> str:
    """The task as tables name it: ``rt-polarity``, or ``rt-polarity@high-lr`` for a suite's regime."""
    return f"{record['task']}@{record['regime']}" if record.get("regime") else record["task"]


def table_key(record: dict) -> tuple[str, str, str]:
    """Which table a record belongs to: (task and regime, model, stage-1 strategy)."""
    return task_label(record), record["model"], record.get("stage1", {}).get("strategy", "default")


def degenerate(record: dict) -> str | None:
    """Why the record's trajectory is degenerate, or None (the trainer's verdict where recorded,
    else the members' val metrics, which every record carries)."""
    traj = record.get("trajectory", {})
    recorded = traj.get("degenerate")
    if recorded:
        return recorded
    return degenerate_reason([m["metrics"] for m in traj.get("members_val", [])], record["primary_metric"])


def fallback_reasons(record: dict) -> dict[str, int]:
    """Why this cell's BO steps fell back, counted by reason (``{}`` if the record does not say).

    A ``repeat`` is not a failure: the GP chose a point already evaluated (often the optimum it
    has found) and the search evaluated a fresh design point instead.

    Example:
        >>> fallback_reasons({"info": {"fallbacks": {"count": 3, "reasons": {"repeat": 2, "fit": 1}}}})
        {'repeat': 2, 'fit': 1}
    """
    value = (record.get("info") or {}).get("fallbacks")
    reasons = value.get("reasons") if isinstance(value, dict) else None
    return {str(k): int(v) for k, v in reasons.items() if isinstance(v, (int, float)) and v} if isinstance(reasons, dict) else {}


def fallback_steps(record: dict) -> int:
    """BO steps of this cell that fell back to a random point (0 if the record says nothing)."""
    info = record.get("info") or {}
    for key in FALLBACK_KEYS:
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (bool, int, float)):
            return int(value)
        if isinstance(value, (list, tuple)):
            return len(value)
        if isinstance(value, dict):
            if "count" in value:
                return int(value["count"])
            return int(sum(v for v in value.values() if isinstance(v, (int, float)))) or len(value)
    return 0


def is_baseline(method: str) -> bool:
    """Baselines are the methods defined in the ``baselines`` package (not BOMF or its variants)."""
    from ..fusion import get_method

    try:
        return get_method(method).fn.__module__.startswith(("baselines.", "bomf.baselines."))
    except Exception:
        return False


def primary_scores(record: dict) -> tuple[str, list, list]:
    """(metric, per-example predictions or scores, labels) of the primary test metric."""
    primary, test = record["primary_metric"], record["test"]
    if "example_scores" in test:  # generation: means of per-example scores; resample those
        scores = test["example_scores"][primary]
        return "mean", scores, [0.0] * len(scores)
    return primary, test["predictions"], test["labels"]


def test_clusters(record: dict) -> tuple[list | None, str]:
    """The test examples' cluster ids and a note: from the record, else (records made before
    clusters were recorded) from the registered task with the record's limits, checked against
    the record's labels; else None (examples resampled one by one)."""
    test = record["test"]
    if test.get("clusters") is not None:
        return list(test["clusters"]), ""
    try:
        from ..tasks import SplitLimits, get_task

        task = get_task(record["task"])
        if task.cluster_unit is None:
            return None, ""
        split = task.load_splits(SplitLimits(**record["trajectory"]["request"]["limits"])).test
    except Exception as exc:  # noqa: BLE001 - a task that cannot be loaded now: say so, resample examples
        return None, f"clusters unavailable ({type(exc).__name__}); examples resampled one by one"
    if split.clusters is None or list(split.labels) != list(test["labels"]):
        return None, "clusters unavailable (the task's test split no longer matches the record); examples resampled"
    return list(split.clusters), f"{task.cluster_unit} clusters from the task (the records predate them)"


@dataclass
class Verdict:
    label: str
    reference: str
    comparison: Comparison | None
    p_holm: float = math.nan
    verdict: str = ""
    mde: float = math.nan

    def cell(self) -> str:
        """``diff [95% interval]`` (the interval is not multiplicity-adjusted; the verdict is)."""
        c = self.comparison
        return "" if c is None else f"{c.diff:+.4f} [{c.low:+.4f}, {c.high:+.4f}]"


@dataclass
class TableEvidence:
    primary: str
    by_label: dict[str, list[dict]]
    usable: dict[str, list[int]]  # label -> usable seeds
    degenerate: dict[int, str]  # seed -> reason
    references: list[str]
    reference_rule: str
    verdicts: dict[tuple[str, str], Verdict] = field(default_factory=dict)
    family: int = 0
    notes: list[str] = field(default_factory=list)

    def usable_records(self, label: str) -> list[dict]:
        seeds = set(self.usable[label])
        return [r for r in self.by_label[label] if r["seed"] in seeds]


class _Resampler:
    """One bootstrap design per table (per seed when seeds have different test sets), and each
    record's replicate values computed once."""

    def __init__(self, records: list[dict], n_boot: int, seed: int):
        first = records[0]
        _, _, gold = primary_scores(first)
        self.clusters, self.note = test_clusters(first)
        golds = {r["seed"]: primary_scores(r)[2] for r in records}
        self.shared = all(g == gold for g in golds.values())
        self.n_boot, self.seed = n_boot, seed
        self._draws: dict[int, Draws] = {}
        self._values: dict[int, tuple[float, np.ndarray]] = {}

    def draws(self, record: dict) -> Draws:
        key = -1 if self.shared else record["seed"]
        if key not in self._draws:
            n = len(primary_scores(record)[2])
            clusters = self.clusters if self.clusters is not None and len(self.clusters) == n else None
            self._draws[key] = make_draws(n, self.n_boot, self.seed + max(key, 0), clusters)
        return self._draws[key]

    def values(self, record: dict) -> tuple[float, np.ndarray]:
        if id(record) not in self._values:
            metric, pred, gold = primary_scores(record)
            self._values[id(record)] = replicate_values(metric, pred, gold, self.draws(record))
        return self._values[id(record)]

    def compare(self, recs_a: list[dict], recs_b: list[dict]) -> Comparison:
        diffs, reps, identical = [], [], True
        for a, b in zip(recs_a, recs_b):
            fa, ra = self.values(a)
            fb, rb = self.values(b)
            diffs.append(fa - fb)
            reps.append(ra - rb)
            identical &= primary_scores(a)[1] == primary_scores(b)[1]
        return combine(diffs, np.stack(reps, 1), identical=identical)


def choose_references(by_label: dict[str, list[dict]], usable: dict[str, list[int]],
                      named: list[str] | None = None) -> tuple[list[str], str]:
    """The table's references and how they were chosen (never from test data)."""
    if named:
        present = [r for r in named if r in by_label]
        if present:
            return present, "named by the suite"
    candidates = []
    for label, recs in by_label.items():
        if not is_baseline(recs[0]["method"]):
            continue
        seeds = set(usable[label])
        rows = [r for r in recs if r["seed"] in seeds] or recs
        primary = rows[0]["primary_metric"]
        val = float(np.mean([r["val"]["metrics"][primary] for r in rows]))
        loss = float(np.mean([r["val"]["loss"] for r in rows]))
        candidates.append((-val, loss, label))
    if not candidates:
        return [], "no baseline in this table"
    return [min(candidates)[2]], f"the baseline with the best mean val {by_label[min(candidates)[2]][0]['primary_metric']}"


def table_evidence(records: list[dict], references: list[str] | None = None, n_boot: int = N_BOOT,
                   seed: int = 0, challengers: list[str] | None = None) -> TableEvidence:
    """Comparisons of one table. ``challengers`` (default: every label but the reference) are
    compared with each reference; the family for Holm is every comparison made here."""
    by_label: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_label[label_of(r)].append(r)
    by_label = {k: sorted(v, key=lambda r: r["seed"]) for k, v in sorted(by_label.items())}
    primary = records[0]["primary_metric"]
    bad = {}
    for r in records:
        reason = degenerate(r)
        if reason:
            bad[r["seed"]] = reason
    all_bad = all(r["seed"] in bad for r in records)
    usable = {label: [r["seed"] for r in recs if all_bad or r["seed"] not in bad] for label, recs in by_label.items()}
    refs, rule = choose_references(by_label, usable, references)
    ev = TableEvidence(primary=primary, by_label=by_label, usable=usable, degenerate=bad, references=refs,
                       reference_rule=rule)
    if bad:
        seeds = ", ".join(f"seed {s} ({why})" for s, why in sorted(bad.items()))
        ev.notes.append(f"degenerate trajectories: {seeds}; "
                        + ("every seed is degenerate, so all are kept and nothing here should be read as a finding"
                           if all_bad else "left out of this table's means, comparisons and the summary ranks"))
    resampler = _Resampler(records, n_boot, seed)
    if resampler.note:
        ev.notes.append(resampler.note)
    elif resampler.clusters is not None:
        ev.notes.append(f"the bootstrap resamples {len(set(resampler.clusters))} test clusters, not examples")
    tested = []
    for ref in refs:
        for label in (challengers if challengers is not None else list(by_label)):
            if label == ref or label not in by_label:
                continue
            ref_by_seed = {r["seed"]: r for r in ev.usable_records(ref)}
            pairs = [(r, ref_by_seed[r["seed"]]) for r in ev.usable_records(label) if r["seed"] in ref_by_seed]
            if not pairs:
                ev.verdicts[(label, ref)] = Verdict(label, ref, None, verdict="no common seeds")
                continue
            comp = resampler.compare([a for a, _ in pairs], [b for _, b in pairs])
            v = Verdict(label, ref, comp)
            ev.verdicts[(label, ref)] = v
            if comp.identical:  # the same model in every seed (e.g. both picked the best member)
                v.verdict, v.p_holm = "identical", 1.0
            else:
                tested.append(v)
    ev.family = len(tested)
    for v, p in zip(tested, holm([v.comparison.p for v in tested])):
        v.p_holm = p
        if p < ALPHA:
            v.verdict = "better" if v.comparison.diff > 0 else "worse"
        else:
            v.verdict = "noise"
        v.mde = min_detectable(v.comparison.se, v.comparison.df, ALPHA / ev.family, POWER)
    return ev
