"""Generation tasks from the Hugging Face Hub: SQuAD v2 (as generation), SAMSum and XSum.

- ``squad_v2``: input ``question: ... context: ...``, target the first gold answer or the
  no-answer string ``unanswerable``; exact match / F1 by the official rules
  (``bomf.metrics.text``). The official validation split is test; val is carved from train
  (2,000 questions or 10% if fewer, seed 1234), as for GLUE.
- ``samsum`` (dialogue -> summary) and ``xsum`` (article -> one-sentence summary): ROUGE-1/2/Lsum;
  their own validation split is val and test split is test.

Rows come from the Hub or, when ``$BOMF_HUB_DATA_DIR`` is set, from local files
``<dir>/<dataset>/<split>.jsonl`` in the Hub schema (tests use small fixtures; users can point it
at a local copy). Offline, the Hub path fails at once with one line. These loaders were written
against the datasets' documented schemas and tested on fixtures only: this project has had no
network to run them against the Hub.

Example:
    >>> rows = [{"question": "Who?", "context": "Ann ran.", "answers": {"text": ["Ann"], "answer_start": [0]}}]
    >>> squad_rows_to_split(rows).labels
    [['Ann']]
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from ..core.errors import BomfError
from ..core.hub import require_hub
from .base import Split, Splits, Task, carve_val, offline_task_names, register_task
from .local_files import read_jsonl_splits

LOCAL_DIR_ENV = "BOMF_HUB_DATA_DIR"
NO_ANSWER = "unanswerable"
SQUAD_VAL, SPLIT_SEED = 2000, 1234

HUB_IDS = {"squad_v2": "rajpurkar/squad_v2", "samsum": "knkarthick/samsum", "xsum": "EdinburghNLP/xsum"}
# XSum on the Hub is a loading script, which datasets >= 4 refuses; its parquet conversion loads.
HUB_REVISIONS = {"xsum": "refs/convert/parquet"}


@lru_cache(maxsize=4)
def _rows(name: str, folder: str | None) -> dict[str, list[dict]]:
    if folder is not None:
        return read_jsonl_splits(Path(folder) / name, LOCAL_DIR_ENV)
    require_hub(HUB_IDS[name], offline_task_names())
    import datasets

    ds = datasets.load_dataset(HUB_IDS[name], revision=HUB_REVISIONS.get(name))
    return {split: ds[split].to_list() for split in ds}


def load_rows(name: str) -> dict[str, list[dict]]:
    folder = os.environ.get(LOCAL_DIR_ENV) or None
    rows = _rows(name, str(Path(folder).resolve()) if folder else None)
    return rows


def squad_source(question: str, context: str) -> str:
    return f"question: {question.strip()} context: {context.strip()}"


def squad_rows_to_split(rows: list[dict]) -> Split:
    """SQuAD-v2 rows -> sources and gold-answer lists (empty = unanswerable)."""
    return Split(
        text_a=[squad_source(r["question"], r["context"]) for r in rows],
        text_b=None,
        labels=[[t for t in r["answers"]["text"]] for r in rows],
    )


def summary_rows_to_split(rows: list[dict], source_col: str) -> Split:
    """Rows with a source column and ``summary``; rows with an empty source or summary are dropped
    (SAMSum's train split holds one)."""
    pairs = [((r.get(source_col) or "").strip(), (r.get("summary") or "").strip()) for r in rows]
    pairs = [(src, ref) for src, ref in pairs if src and ref]
    return Split(text_a=[f"Summarize:\n{src}" for src, _ in pairs], text_b=None, labels=[ref for _, ref in pairs])


def _need(rows: dict, name: str, *splits: str) -> None:
    for s in splits:
        if s not in rows:
            raise BomfError(f"{name} has no {s} split (found {sorted(rows)}); check the data")


def load_squad() -> Splits:
    rows = load_rows("squad_v2")
    _need(rows, "squad_v2", "train", "validation")
    full = squad_rows_to_split(rows["train"])
    # 2,000 questions of the 130k (10% of a small local copy).
    train, val = carve_val(full, min(SQUAD_VAL, max(1, round(0.1 * len(full)))), seed=SPLIT_SEED)
    return Splits(train=train, val=val, test=squad_rows_to_split(rows["validation"]))


def summary_loader(name: str, source_col: str):
    def load() -> Splits:
        rows = load_rows(name)
        _need(rows, name, "train", "validation", "test")
        return Splits(*(summary_rows_to_split(rows[s], source_col) for s in ("train", "validation", "test")))

    return load


register_task(
    Task(
        name="squad_v2",
        kind="generation",
        num_labels=0,
        metrics=("exact_match", "token_f1"),
        primary_metric="token_f1",
        load=load_squad,
        source="hub",
        description="SQuAD v2 as generation (Hub); EM/F1 official rules; val carved from train, official dev as test",
        max_length=512,
        target_of=lambda golds: golds[0] if golds else NO_ANSWER,
        no_answer=NO_ANSWER,
        max_target_length=32,
        max_new_tokens=32,
    )
)
for _name, _col, _desc in (("samsum", "dialogue", "SAMSum dialogue summarization (Hub); ROUGE"),
                           ("xsum", "document", "XSum one-sentence news summarization (Hub); ROUGE")):
    register_task(
        Task(
            name=_name,
            kind="generation",
            num_labels=0,
            metrics=("rouge1", "rouge2", "rougeLsum"),
            primary_metric="rougeLsum",
            load=summary_loader(_name, _col),
            source="hub",
            description=_desc,
            max_length=512,
            target_of=str,
            max_target_length=96,
            max_new_tokens=96,  # as long as the longest training target
        )
    )
