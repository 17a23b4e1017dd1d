"""Your run vs the reference: paired differences and verdicts per (table, method)."""

import numpy as np

from bomf.reports.reproduce import compare_runs, render

GOLD = [i % 2 for i in range(400)]


def record(preds, label="m", seed=0, task="t", gold=GOLD):
    acc = float(np.mean(np.asarray(preds) == np.asarray(gold)))
    return {"task": task, "model": "x", "label": label, "method": label, "seed": seed, "primary_metric": "accuracy",
            "stage1": {"strategy": "default"},
            "test": {"metrics": {"accuracy": acc}, "predictions": list(preds), "labels": list(gold)}}


def flip(preds, n, start=0):
    out = list(preds)
    for i in range(start, start + n):
        out[i] = 1 - out[i]
    return out


def test_verdicts_identical_within_noise_and_differs():
    base = flip(GOLD, 80)  # accuracy 0.8; "close" loses 6 examples and wins 4: 10 discordant pairs, noise
    ref = [record(base, "same"), record(base, "close"), record(base, "far")]
    yours = [record(base, "same"), record(flip(flip(base, 6, start=200), 4), "close"), record(flip(base, 120, start=200), "far")]
    rows = {r["method"]: r for r in compare_runs(yours, ref)}
    assert rows["same"]["verdict"] == "reproduced within noise (identical)" and rows["same"]["diff"] == 0
    assert rows["close"]["verdict"] == "reproduced within noise"
    assert rows["close"]["low"] < 0 < rows["close"]["high"] and np.isclose(rows["close"]["diff"], -2 / 400)
    assert rows["far"]["verdict"] == "differs" and rows["far"]["high"] < 0
    assert np.isclose(rows["far"]["yours"] - rows["far"]["reference"], rows["far"]["diff"])
    text = render(list(rows.values()))
    assert "t / x / default: 2 of 3 methods reproduced within noise, 1 differ." in text
    assert "Overall: 2 of 3 (table, method) pairs reproduced within noise, 1 differ, 0 not compared." in text


def test_missing_methods_seeds_and_other_test_examples_are_said_not_dropped():
    base = list(GOLD)
    ref = [record(base, "both", seed=0), record(base, "both", seed=1), record(base, "theirs"),
           record(base, "shifted")]
    yours = [record(base, "both", seed=0), record(base, "mine"), record(base[:200], "shifted", gold=GOLD[:200])]
    rows = {r["method"]: r for r in compare_runs(yours, ref)}
    assert rows["both"]["seeds"] == 1 and rows["both"]["verdict"].endswith("seeds [1] on one side only")
    assert rows["theirs"]["verdict"] == "not in your run" and rows["mine"]["verdict"] == "only in your run"
    assert rows["shifted"]["verdict"] == "not comparable (different test examples)"


def test_generation_records_compare_per_example_scores():
    scores = list(np.linspace(0, 1, 50))
    rec = lambda s: {**record([0] * 50, "gen", gold=[0] * 50),  # noqa: E731
                     "primary_metric": "rougeLsum",
                     "test": {"metrics": {"rougeLsum": float(np.mean(s))}, "example_scores": {"rougeLsum": s}}}
    row = compare_runs([rec(scores)], [rec(scores)])[0]
    assert row["verdict"] == "reproduced within noise (identical)"
    row = compare_runs([rec([1.0] * 50)], [rec([0.0] * 50)])[0]
    assert row["verdict"] == "differs" and row["diff"] == 1.0
