"""Tables from synthetic records: reference choice, Holm verdicts, degenerate seeds, flags, the
summary (numeric ranks, shared first places, corrected wins), the stage-1 comparison and the
generation bootstrap path."""

import numpy as np
import pytest

from bomf.reports.evidence import choose_references, table_evidence
from bomf.reports.stats import holm
from bomf.reports.summary import summary_table
from bomf.reports.tables import stage1_table, task_table, write_tables

N = 400
GOLD = [i % 2 for i in range(N)]


def _preds(wrong: int, seed: int, shift: int = 0):
    """GOLD with ``wrong`` examples flipped; which ones depends on the seed (and ``shift``)."""
    rng = np.random.default_rng(1000 * seed + shift)
    flip = set(rng.choice(N, wrong, replace=False).tolist())
    return [1 - g if i in flip else g for i, g in enumerate(GOLD)]


def rec(label, seed, wrong, val=0.8, method=None, val_loss=0.5, members=(0.7, 0.75), shift=0, **extra):
    preds = _preds(wrong, seed, shift)
    acc = float(np.mean(np.array(preds) == np.array(GOLD)))
    r = {"task": "t", "model": "m", "method": method or label, "label": label, "seed": seed, "primary_metric": "accuracy",
         "test": {"metrics": {"accuracy": acc}, "loss": 0.5, "predictions": preds, "labels": GOLD},
         "val": {"metrics": {"accuracy": val}, "loss": val_loss},
         "costs": {"fused_evaluations": 0, "method_seconds": 1.0},
         "trajectory": {"costs": {"train_seconds": 100.0}, "members_val": [{"metrics": {"accuracy": v}} for v in members]},
         "git_dirty": False, "info": {}}
    r.update(extra)
    return r


def test_the_reference_is_chosen_by_val_never_by_test():
    recs = []
    for s in range(3):
        recs.append(rec("last", s, 40, val=0.70))  # best on test, worst on val
        recs.append(rec("best", s, 80, val=0.85))  # best on val
        recs.append(rec("uniform_soup", s, 60, val=0.80))
        recs.append(rec("bomf", s, 60, val=0.90))  # best val of all, but not a baseline
    ev = table_evidence(recs)
    assert ev.references == ["best"] and "val accuracy" in ev.reference_rule
    # ties on val are broken by the lower val loss, then the name
    tied = [rec("last", 0, 40, val=0.8, val_loss=0.4), rec("best", 0, 40, val=0.8, val_loss=0.3)]
    assert choose_references({"last": [tied[0]], "best": [tied[1]]}, {"last": [0], "best": [0]})[0] == ["best"]
    # a suite can name its references; a name not in the table falls back to the val rule
    assert table_evidence(recs, references=["last", "uniform_soup"]).references == ["last", "uniform_soup"]
    assert table_evidence(recs, references=["swa"]).references == ["best"]


def test_verdicts_use_holm_adjusted_p_over_the_table():
    recs = []
    for s in range(3):
        recs.append(rec("best", s, 100, val=0.9))
        recs.append(rec("bomf", s, 20, val=0.8, method="bomf"))  # 20 points better in every seed
        recs.append(rec("last", s, 100, val=0.7, shift=7))  # same accuracy, other examples wrong
        recs.append(rec("uniform_soup", s, 100, val=0.7))  # identical to best: no test
    ev = table_evidence(recs)
    tested = [v for v in ev.verdicts.values() if v.verdict != "identical"]
    assert ev.family == len(tested) == 2
    assert [v.p_holm for v in tested] == pytest.approx(holm([v.comparison.p for v in tested]))
    assert ev.verdicts[("bomf", "best")].verdict == "better"
    assert ev.verdicts[("last", "best")].verdict == "noise" and ev.verdicts[("last", "best")].mde > 0
    assert ev.verdicts[("uniform_soup", "best")].verdict == "identical"
    table = task_table(recs, evidence=ev).set_index("method")
    assert table.loc["bomf", "verdict vs best"] == "better" and table.loc["best", "vs best"] == "reference"
    assert table.loc["last", "MDE vs best"] != "" and table.index[0] == "bomf"  # sorted by test metric


def test_degenerate_seeds_are_flagged_and_left_out_of_comparisons_and_ranks():
    recs = []
    for s in range(3):
        members = (0.5, 0.5) if s == 2 else (0.7, 0.8)  # seed 2: val accuracy equal for every member
        recs.append(rec("best", s, 100, val=0.9, members=members))
        recs.append(rec("bomf", s, 300 if s == 2 else 90, members=members))
    ev = table_evidence(recs)
    assert set(ev.degenerate) == {2} and ev.usable["bomf"] == [0, 1]
    assert ev.verdicts[("bomf", "best")].comparison.seeds == 2
    assert any("degenerate" in n and "seed 2" in n for n in ev.notes)
    table = task_table(recs, evidence=ev).set_index("method")
    assert table.loc["bomf", "seeds"] == "2 of 3"
    # the recorded verdict of the trainer counts too
    recorded = rec("best", 0, 100, trajectory={"costs": {"train_seconds": 1.0}, "members_val": [],
                                                "degenerate": "every member predicts a single class on val"})
    assert table_evidence([recorded, rec("bomf", 1, 100)]).degenerate == {0: "every member predicts a single class on val"}
    _, notes = summary_table([(("s", "t", "m", "default"), ev)])
    assert any("degenerate seeds 2 left out" in n for n in notes)


def test_cells_from_uncommitted_code_and_bo_fallbacks_are_flagged():
    recs = [rec("best", 0, 100, git_dirty=True), rec("best", 1, 100),
            rec("bomf", 0, 100, info={"fallback_steps": 3}), rec("bomf", 1, 100, info={"fallbacks": [{"why": "x"}]})]
    table = task_table(recs).set_index("method")
    assert table.loc["best", "flags"] == "dirty 1/2"
    assert table.loc["bomf", "flags"] == "fallback 4 steps in 2/2"
    # With the reasons the searches record (a repeat is no failure, a failed fit is), they are named.
    recs = [rec("bo_loss", 0, 100, info={"fallbacks": {"count": 0, "reasons": {}}}),
            rec("bo_loss", 1, 100, info={"fallbacks": {"count": 5, "reasons": {"repeat": 4, "gp fit failed": 1}}})]
    assert task_table(recs).set_index("method").loc["bo_loss", "flags"] == \
        "fallback 5 steps (gp fit failed 1, repeat 4) in 1/2"


def test_summary_ranks_are_numbers_ties_share_first_place_and_wins_are_corrected():
    recs = []
    labels = [f"m{i:02d}" for i in range(12)]
    for s in range(3):
        recs.append(rec("best", s, 200, val=0.9))  # the reference, worst of all
        for i, label in enumerate(labels):
            wrong = 20 if i < 2 else 40 + 10 * i  # m00 and m01 tie for first (same predictions)
            recs.append(rec(label, s, wrong, method="bomf", shift=0 if i < 2 else i))
    ev = table_evidence(recs)
    df, _ = summary_table([(("s", "t", "m", "default"), ev)])
    ranks = df["mean rank"].astype(float).tolist()
    assert ranks == sorted(ranks) and df["method"].iloc[-1] == "best" and df["mean rank"].iloc[-1] == "13.00"
    top = df.set_index("method")
    assert top.loc["m00", "mean rank"] == top.loc["m01", "mean rank"] == "1.50"
    assert top.loc["m00", "first places"] == top.loc["m01", "first places"] == "0.5"
    # every method beats the reference by 15+ points in every seed: corrected wins, and the
    # reference's losses mirror them
    assert (top.loc[labels, "significant wins"] == 1).all() and top.loc["best", "significant losses"] == 12


def test_tables_are_written_with_their_notes_and_the_same_bytes_twice(tmp_path):
    recs = [rec(label, s, w, val=v) for s in range(2) for label, w, v in (("best", 100, 0.9), ("last", 80, 0.7))]
    paths = write_tables(recs, tmp_path / "a", title="x")
    write_tables(recs, tmp_path / "b", title="x")
    for p in paths:
        assert p.read_bytes() == (tmp_path / "b" / p.name).read_bytes()
    md = (tmp_path / "a" / "t__m__default.md").read_text()
    assert "Reference: best (the baseline with the best mean val accuracy)" in md


def _stage1_record(strategy, seed, correct, flops, chosen=None, example_scores=None):
    gold = [i % 2 for i in range(200)]
    preds = [g if i < correct else 1 - g for i, g in enumerate(gold)]
    test = {"metrics": {"accuracy": correct / 200}, "loss": 0.5, "predictions": preds, "labels": gold}
    if example_scores is not None:
        test = {**test, "example_scores": {"accuracy": example_scores}}
    return {"task": "t", "model": "m", "method": "best", "seed": seed, "primary_metric": "accuracy", "test": test,
            "val": {"metrics": {"accuracy": 0.8}, "loss": 0.5}, "trajectory": {"members_val": []},
            "stage1": {"strategy": strategy, "costs": {"trials": 4, "optimizer_steps": 100, "seconds": 10.0,
                                                        "flops_estimate": flops},
                       "info": {"chosen": chosen} if chosen else {}}}


def test_stage1_table_reports_cost_ratios_choices_and_a_paired_verdict():
    recs = []
    for seed in (0, 1, 2):
        recs.append(_stage1_record("hpbo_full", seed, 150, 10e12, {"lr": 1e-4, "batch_size": 16}))
        recs.append(_stage1_record("bomf", seed, 190, 6e12, {"lr": 3e-4, "batch_size": 8}))  # clearly better
        recs.append(_stage1_record("grid", seed, 150, 11e12, {"lr": 2e-5, "batch_size": 32}))  # identical predictions
    table = stage1_table(recs).set_index("stage 1")
    assert table.loc["bomf", "FLOPs / hpbo_full"] == "0.60"
    assert table.loc["grid", "FLOPs / hpbo_full"] == "1.10"
    assert table.loc["bomf", "chosen lr, batch"] == "; ".join(["3.0e-04, 8"] * 3)
    assert table.loc["hpbo_full", "vs hpbo_full"] == "reference"
    assert table.loc["bomf", "verdict vs hpbo_full"] == "better"
    assert table.loc["grid", "vs hpbo_full"].startswith("+0.0000") and table.loc["grid", "verdict vs hpbo_full"] == "identical"


def test_generation_records_are_bootstrapped_over_per_example_scores():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, 200)
    a = {**_stage1_record("default", 0, 100, 0, example_scores=list(base + 0.2)), "method": "bomf"}
    b = _stage1_record("default", 0, 100, 0, example_scores=list(base))
    # same predictions (so the accuracy path would say +0), different per-example scores: +0.2
    ev = table_evidence([a, b], references=["best"])
    v = ev.verdicts[("bomf", "best")]
    assert v.cell().startswith("+0.2000") and v.verdict == "better"


def test_the_summary_across_suites_keeps_their_tables_apart(tmp_path):
    from bomf.reports.tables import write_summary_across_suites

    a = [rec(label, s, w, val=v) for s in range(2) for label, w, v in (("best", 100, 0.9), ("last", 80, 0.7))]
    b = [{**r, "suite": "b"} for r in a]  # the same task in another suite: a second table, not one merged
    paths = write_summary_across_suites({"a": a, "b": b}, {"b": ["last"]}, tmp_path)
    md = (tmp_path / "summary.md").read_text()
    assert paths[0].name == "summary.md" and "suites: a, b" in md
    row = [line for line in md.splitlines() if line.startswith("| best")][0]
    assert row.split("|")[2].strip() == "2"  # two tables: one per suite
