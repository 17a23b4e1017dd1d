"""aclsum-qnli: QNLI-shaped pair classification built from ACLSum (MIT, ``aclsum==0.1.2``).

For every paper, aspect (challenge / approach / outcome) and sentence of its abstract,
introduction and conclusion, the pair (aspect question, sentence) is labelled 1 if the
ACLSum authors highlighted that sentence for that aspect. The labels are the ACLSum authors';
the question framing is ours. About 13% of pairs are positive, so F1 (of the positive class)
is the primary metric and accuracy is reported beside it. Splits are ACLSum's own
(100 / 50 / 100 papers, ~11.6k / 5.9k / 11.3k pairs); the default limits subsample them to a
CPU-sized 4,000 / 1,000 / 2,000 pairs with a fixed seed (pass limits to change that).
Pairs of one paper share their sentences (each sentence once per aspect) and their writing, so
each pair carries its paper's id as a cluster: the tables resample test papers, not pairs.

Example:
    >>> from bomf.tasks import get_task
    >>> get_task("aclsum-qnli").primary_metric
    'f1'
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path

from ..core.errors import BomfError
from .base import Split, SplitLimits, Splits, Task, register_task

ASPECT_QUESTIONS = {
    "challenge": "What challenge does the paper address?",
    "approach": "What approach does the paper propose?",
    "outcome": "What is the outcome of the paper?",
}
SECTIONS = ("abstract", "introduction", "conclusion")


def aclsum_dir() -> Path:
    spec = importlib.util.find_spec("aclsum")
    if spec is None or not spec.submodule_search_locations:
        raise BomfError("the aclsum package is not installed; run pip install aclsum==0.1.2")
    return Path(spec.submodule_search_locations[0]) / "dataset"


@lru_cache(maxsize=3)
def read_papers(split: str) -> list[dict]:
    # Read the JSONL directly: the package's own loader imports an extra dependency.
    with open(aclsum_dir() / f"{split}.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def papers_to_pairs(papers: list[dict]) -> Split:
    questions, sentences, labels, clusters = [], [], [], []
    for n, paper in enumerate(papers):
        paper_id = paper.get("id", f"paper {n}")
        for aspect, question in ASPECT_QUESTIONS.items():
            for section in SECTIONS:
                sents = paper["sentences"][section]
                marks = paper["highlights"][aspect][section]
                for sentence, mark in zip(sents, marks):
                    questions.append(question)
                    sentences.append(sentence)
                    labels.append(int(mark))
                    clusters.append(paper_id)
    return Split(text_a=questions, text_b=sentences, labels=labels, clusters=clusters)


def load() -> Splits:
    return Splits(*(papers_to_pairs(read_papers(s)) for s in ("train", "val", "test")))


register_task(
    Task(
        name="aclsum-qnli",
        kind="classification",
        num_labels=2,
        metrics=("f1", "accuracy"),
        primary_metric="f1",
        load=load,
        source="offline",
        description="ACLSum (aspect question, sentence) -> highlighted? QNLI-like pairs, ~13% positive",
        max_length=128,
        label_names=("not_highlighted", "highlighted"),
        default_limits=SplitLimits(train=4000, val=1000, test=2000),
        cluster_unit="paper",
    )
)
