"""GLUE tasks from the Hugging Face Hub: rte, mrpc, sst2, qnli, cola, stsb, qqp, mnli.

Protocol: GLUE's official test labels are hidden, so, as in the BOMF paper, the val split is
carved out of the official train split with a fixed seed (10% of train, at most 2,000
examples, seed 1234; ``carve_val``), and the official validation split (``validation_matched``
for MNLI) is reported as test. Methods select on val only; test is never seen before the end.

Rows come from the Hub (``datasets.load_dataset("nyu-mll/glue", config)``) or, when
``$BOMF_GLUE_DIR`` (or ``load_glue(..., data_dir=...)``) is set, from local files
``<dir>/<config>/<split>.jsonl`` in the Hub schema (text columns, ``label``, ``idx``): tests
use small fixtures, users can point it at a local copy. Without network the Hub path fails at
once with one line (``bomf.core.hub.require_hub``) instead of retrying.

Example:
    >>> from bomf.tasks import get_task
    >>> get_task("cola").primary_metric, get_task("stsb").kind, get_task("mnli").num_labels
    ('matthews', 'regression', 3)
    >>> splits = get_task("rte").load_splits()   # doctest: +SKIP
    >>> splits.sizes()                            # doctest: +SKIP
    {'train': 2241, 'val': 249, 'test': 277}
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..core.errors import BomfError
from ..core.hub import require_hub
from .base import Split, Splits, Task, TaskKind, carve_val, offline_task_names, register_task
from .local_files import read_jsonl_splits

VAL_FRACTION, VAL_CAP, VAL_SEED = 0.1, 2000, 1234
HUB_DATASET = "nyu-mll/glue"  # the current Hub id; the legacy name "glue" only redirects here
LOCAL_DIR_ENV = "BOMF_GLUE_DIR"


@dataclass(frozen=True)
class GlueSpec:
    columns: tuple[str, ...]  # one text column (single sentence) or two (pair)
    num_labels: int
    metrics: tuple[str, ...]
    primary: str
    label_names: tuple[str, ...] = ()
    kind: TaskKind = "classification"
    test_split: str = "validation"


PAIR = ("sentence1", "sentence2")
GLUE: dict[str, GlueSpec] = {
    "rte": GlueSpec(PAIR, 2, ("accuracy",), "accuracy", ("entailment", "not_entailment")),
    "mrpc": GlueSpec(PAIR, 2, ("accuracy", "f1"), "accuracy", ("not_equivalent", "equivalent")),
    "sst2": GlueSpec(("sentence",), 2, ("accuracy",), "accuracy", ("negative", "positive")),
    "qnli": GlueSpec(("question", "sentence"), 2, ("accuracy",), "accuracy", ("entailment", "not_entailment")),
    "cola": GlueSpec(("sentence",), 2, ("matthews",), "matthews", ("unacceptable", "acceptable")),
    "stsb": GlueSpec(PAIR, 1, ("pearson", "spearman"), "pearson", kind="regression"),
    "qqp": GlueSpec(("question1", "question2"), 2, ("accuracy", "f1"), "accuracy", ("not_duplicate", "duplicate")),
    "mnli": GlueSpec(("premise", "hypothesis"), 3, ("accuracy",), "accuracy",
                     ("entailment", "neutral", "contradiction"), test_split="validation_matched"),
}


def load_glue(config_name: str, data_dir: str | None = None) -> dict[str, list[dict]]:
    """Rows of every split of one GLUE config: from ``data_dir`` / ``$BOMF_GLUE_DIR``, else the Hub.

    The result is cached per (config, directory), so changing ``$BOMF_GLUE_DIR`` is seen at once.
    Treat it as read-only.
    """
    folder = data_dir or os.environ.get(LOCAL_DIR_ENV) or None
    return _load_cached(config_name, str(Path(folder).resolve()) if folder else None)


@lru_cache(maxsize=4)
def _load_cached(config_name: str, folder: str | None) -> dict[str, list[dict]]:
    if folder is not None:
        return read_jsonl_splits(Path(folder) / config_name, LOCAL_DIR_ENV)
    require_hub(f"glue/{config_name}", offline_task_names())  # fail in ~2 s with one line rather than retry for long
    import datasets  # heavy; only the Hub path needs it

    ds = datasets.load_dataset(HUB_DATASET, config_name)
    return {split: ds[split].to_list() for split in ds}


def rows_to_split(rows: list[dict], spec: GlueSpec) -> Split:
    """Rows in the Hub schema -> a ``Split``; rows labelled -1 (hidden test labels) are dropped."""
    rows = [r for r in rows if r["label"] != -1]
    cast = float if spec.kind == "regression" else int
    return Split(
        text_a=[r[spec.columns[0]] for r in rows],
        text_b=[r[spec.columns[1]] for r in rows] if len(spec.columns) == 2 else None,
        labels=[cast(r["label"]) for r in rows],
    )


def val_size(n_train: int) -> int:
    """Examples carved from the official train split for val: 10%, at most 2,000."""
    return min(VAL_CAP, int(round(VAL_FRACTION * n_train)))


def make_loader(config_name: str):
    spec = GLUE[config_name]

    def load() -> Splits:
        rows = load_glue(config_name)
        for split in ("train", spec.test_split):
            if split not in rows:
                raise BomfError(f"GLUE {config_name} has no {split} split (found {sorted(rows)}); check the data")
        full_train = rows_to_split(rows["train"], spec)
        train, val = carve_val(full_train, val_size(len(full_train)), seed=VAL_SEED)
        return Splits(train=train, val=val, test=rows_to_split(rows[spec.test_split], spec))

    return load


for _name, _spec in GLUE.items():
    register_task(
        Task(
            name=_name,
            kind=_spec.kind,
            num_labels=_spec.num_labels,
            metrics=_spec.metrics,
            primary_metric=_spec.primary,
            load=make_loader(_name),
            source="hub",
            description=f"GLUE {_name.upper()} (Hub); val carved from train (10%, <=2000), official "
            f"{_spec.test_split} as test",
            max_length=128,
            label_names=_spec.label_names,
        )
    )
