"""Tables from synthetic records: the stage-1 comparison and the generation bootstrap path."""

import numpy as np

from bomf.reports.tables import compare, stage1_table


def _record(strategy, seed, correct, flops, chosen=None, example_scores=None):
    gold = [i % 2 for i in range(200)]
    preds = [g if i < correct else 1 - g for i, g in enumerate(gold)]
    test = {"metrics": {"accuracy": correct / 200}, "loss": 0.5, "predictions": preds, "labels": gold}
    if example_scores is not None:
        test = {**test, "example_scores": {"accuracy": example_scores}}
    return {"task": "t", "model": "m", "method": "best", "seed": seed, "primary_metric": "accuracy", "test": test,
            "stage1": {"strategy": strategy, "costs": {"trials": 4, "optimizer_steps": 100, "seconds": 10.0,
                                                        "flops_estimate": flops},
                       "info": {"chosen": chosen} if chosen else {}}}


def test_stage1_table_reports_cost_ratios_choices_and_a_paired_verdict():
    recs = []
    for seed in (0, 1, 2):
        recs.append(_record("hpbo_full", seed, 150, 10e12, {"lr": 1e-4, "batch_size": 16}))
        recs.append(_record("bomf", seed, 190, 6e12, {"lr": 3e-4, "batch_size": 8}))  # clearly better
        recs.append(_record("grid", seed, 150, 11e12, {"lr": 2e-5, "batch_size": 32}))  # identical predictions
    table = stage1_table(recs).set_index("stage 1")
    assert table.loc["bomf", "FLOPs / hpbo_full"] == "0.60"
    assert table.loc["grid", "FLOPs / hpbo_full"] == "1.10"
    assert table.loc["bomf", "chosen lr, batch"] == "; ".join(["3.0e-04, 8"] * 3)
    assert table.loc["hpbo_full", "vs hpbo_full"] == "reference"
    assert table.loc["bomf", "vs hpbo_full"].endswith("better")
    assert table.loc["grid", "vs hpbo_full"].startswith("+0.0000") and table.loc["grid", "vs hpbo_full"].endswith("noise")


def test_generation_records_are_bootstrapped_over_per_example_scores():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, 200)
    a = _record("default", 0, 100, 0, example_scores=list(base + 0.2))
    b = _record("default", 0, 100, 0, example_scores=list(base))
    # same predictions (so the accuracy path would say +0), different per-example scores: +0.2
    assert compare("accuracy", [(a, b)]).startswith("+0.2000") and compare("accuracy", [(a, b)]).endswith("better")
