"""GLUE tasks from the Hugging Face Hub (rte, mrpc, sst2, qnli, cola, stsb, qqp, mnli).

GLUE's test labels are hidden, so, as the BOMF paper does, the val split is carved out of the
official train split with a fixed seed (10% of train, at most 2,000 examples, seed 1234) and
the official validation split (``validation_matched`` for MNLI) is reported as test.

Rows come from ``datasets.load_dataset("glue", config)``, or, when ``$BOMF_GLUE_DIR`` is set,
from local files ``<dir>/<config>/<split>.jsonl`` in the Hub schema (tests use small fixtures;
users can point it at a local copy). Without network the loader fails at once with one line.

Example:
    >>> from bomf.tasks import get_task
    >>> get_task("cola").primary_metric, get_task("stsb").kind
    ('matthews', 'regression')
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..hub import require_hub
from .base import Split, Splits, Task, carve_val, register_task

VAL_FRACTION, VAL_CAP, VAL_SEED = 0.1, 2000, 1234

# name: (text columns, num_labels, kind, metrics (primary first), test split, label names)
GLUE = {
    "rte": (("sentence1", "sentence2"), 2, "classification", ("accuracy",), "validation", ("entailment", "not_entailment")),
    "mrpc": (("sentence1", "sentence2"), 2, "classification", ("accuracy", "f1"), "validation",
             ("not_equivalent", "equivalent")),
    "sst2": (("sentence",), 2, "classification", ("accuracy",), "validation", ("negative", "positive")),
    "qnli": (("question", "sentence"), 2, "classification", ("accuracy",), "validation",
             ("entailment", "not_entailment")),
    "cola": (("sentence",), 2, "classification", ("matthews",), "validation", ("unacceptable", "acceptable")),
    "stsb": (("sentence1", "sentence2"), 1, "regression", ("pearson", "spearman"), "validation", ()),
    "qqp": (("question1", "question2"), 2, "classification", ("accuracy", "f1"), "validation",
            ("not_duplicate", "duplicate")),
    "mnli": (("premise", "hypothesis"), 3, "classification", ("accuracy",), "validation_matched",
             ("entailment", "neutral", "contradiction")),
}


def load_glue_rows(config: str, splits: tuple[str, ...]) -> dict[str, list[dict]]:
    """Rows of the named splits, from ``$BOMF_GLUE_DIR`` if set, else from the Hub."""
    local = os.environ.get("BOMF_GLUE_DIR")
    if local:
        out = {}
        for split in splits:
            with open(Path(local) / config / f"{split}.jsonl", encoding="utf-8") as fh:
                out[split] = [json.loads(line) for line in fh if line.strip()]
        return out
    require_hub(f"glue/{config}")
    import datasets

    ds = datasets.load_dataset("glue", config)
    return {split: list(ds[split]) for split in splits}


def rows_to_split(rows: list[dict], columns: tuple[str, ...], regression: bool) -> Split:
    rows = [r for r in rows if r["label"] != -1]  # -1 marks hidden labels
    labels = [float(r["label"]) if regression else int(r["label"]) for r in rows]
    text_b = [r[columns[1]] for r in rows] if len(columns) == 2 else None
    return Split(text_a=[r[columns[0]] for r in rows], text_b=text_b, labels=labels)


def make_loader(config: str):
    columns, _, kind, _, test_split, _ = GLUE[config]

    def load() -> Splits:
        rows = load_glue_rows(config, ("train", test_split))
        full_train = rows_to_split(rows["train"], columns, kind == "regression")
        n_val = min(VAL_CAP, int(round(VAL_FRACTION * len(full_train))))
        train, val = carve_val(full_train, n_val, seed=VAL_SEED)
        return Splits(train=train, val=val, test=rows_to_split(rows[test_split], columns, kind == "regression"))

    return load


for _name, (_cols, _n, _kind, _metrics, _test, _labels) in GLUE.items():
    register_task(Task(
        name=_name, kind=_kind, num_labels=_n, metrics=_metrics, primary_metric=_metrics[0], load=make_loader(_name),
        source="hub", description=f"GLUE {_name.upper()} (Hub); val carved from train, official validation as test",
        max_length=128, label_names=_labels,
    ))
