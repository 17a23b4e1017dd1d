"""Generation tasks built from ACLSum (MIT, ``aclsum==0.1.2``): ``aclsum-summ`` and ``aclsum-qa``.

The labels are the ACLSum authors' (one human summary sentence per aspect; highlighted
sentences); the framing as prompts is ours.

- ``aclsum-summ``: (abstract, aspect) -> that aspect's one-sentence summary. 300 / 150 / 300
  items (ACLSum's own 100 / 50 / 100 papers x 3 aspects). ROUGE-1/2/Lsum; primary ROUGE-Lsum.
- ``aclsum-qa``: SQuAD-v2-shaped. Context = the abstract, question = the aspect question; the
  gold answers are the abstract sentences highlighted for that aspect (any one of them counts;
  the training target is the first), or none: then the target is the no-answer string
  ``unanswerable``. Exact match and token F1 by the official SQuAD-v2 rules; primary F1.

Example:
    >>> from bomf.tasks import get_task
    >>> task = get_task("aclsum-summ")
    >>> task.kind, task.primary_metric, task.metrics
    ('generation', 'rougeLsum', ('rouge1', 'rouge2', 'rougeLsum'))
    >>> qa = get_task("aclsum-qa")
    >>> qa.target([]), qa.clean_prediction("Unanswerable.")
    ('unanswerable', '')
"""

from __future__ import annotations

from .aclsum_qnli import ASPECT_QUESTIONS, read_papers
from .base import Split, Splits, Task, register_task

NO_ANSWER = "unanswerable"


def abstract_text(paper: dict) -> str:
    return " ".join(s.strip() for s in paper["sentences"]["abstract"])


def summ_source(aspect: str, abstract: str) -> str:
    return f"Summarize the {aspect} of this paper in one sentence.\n\nAbstract: {abstract}"


def qa_source(question: str, context: str) -> str:
    # The SQuAD format ("question: ... context: ..."), plus the instruction an
    # instruct model needs to know what an answer looks like.
    return (f"Answer with one sentence copied from the context, or '{NO_ANSWER}' if it has none.\n"
            f"question: {question} context: {context}")


def papers_to_summ(papers: list[dict]) -> Split:
    sources, refs = [], []
    for paper in papers:
        for aspect in ASPECT_QUESTIONS:
            sources.append(summ_source(aspect, abstract_text(paper)))
            refs.append(paper["summary"][aspect].strip())
    return Split(text_a=sources, text_b=None, labels=refs)


def papers_to_qa(papers: list[dict]) -> Split:
    sources, golds = [], []
    for paper in papers:
        sents = [s.strip() for s in paper["sentences"]["abstract"]]
        for aspect, question in ASPECT_QUESTIONS.items():
            marks = paper["highlights"][aspect]["abstract"]
            sources.append(qa_source(question, " ".join(sents)))
            golds.append([s for s, m in zip(sents, marks) if m])
    return Split(text_a=sources, text_b=None, labels=golds)


def first_or_no_answer(golds: list[str]) -> str:
    return golds[0] if golds else NO_ANSWER


register_task(
    Task(
        name="aclsum-summ",
        kind="generation",
        num_labels=0,
        metrics=("rouge1", "rouge2", "rougeLsum"),
        primary_metric="rougeLsum",
        load=lambda: Splits(*(papers_to_summ(read_papers(s)) for s in ("train", "val", "test"))),
        source="offline",
        description="ACLSum (abstract, aspect) -> one-sentence aspect summary; ROUGE; 300/150/300",
        max_length=384,
        target_of=str,
        max_target_length=64,
        max_new_tokens=48,
    )
)

register_task(
    Task(
        name="aclsum-qa",
        kind="generation",
        num_labels=0,
        metrics=("exact_match", "token_f1"),
        primary_metric="token_f1",
        load=lambda: Splits(*(papers_to_qa(read_papers(s)) for s in ("train", "val", "test"))),
        source="offline",
        description="ACLSum SQuAD-v2-shaped QA: aspect question over the abstract -> highlighted sentence or none",
        max_length=384,
        target_of=first_or_no_answer,
        no_answer=NO_ANSWER,
        max_target_length=64,
        max_new_tokens=64,
    )
)
