"""Metrics of generated text: SQuAD-v2 exact match / F1 and ROUGE-1/2/Lsum, computed locally.

SQuAD v2 follows the official evaluation script's rules: answers are normalised (lower case,
punctuation and the articles a/an/the removed, whitespace collapsed); a prediction scores the
maximum over the gold answers; an unanswerable question has the single gold answer "" and only
an empty prediction scores 1 on it (the model's no-answer string is mapped to "" first).

ROUGE uses Google's ``rouge-score`` (F-measure, Porter stemming). ROUGE-Lsum needs sentences on
separate lines; NLTK's ``punkt`` data is not available offline, so sentences are split with a
regular expression after ., ! or ? followed by white space.

All metrics are in [0, 1], higher is better, and take ``(predictions, references)`` where a
reference is a list of gold strings (QA) or one string (summarization).

Example:
    >>> exact_match(["The Cat!"], [["cat"]]), round(token_f1(["black cat"], [["the cat"]]), 3)
    (1.0, 0.667)
    >>> exact_match([""], [[]]), exact_match(["a dog"], [[]])
    (1.0, 0.0)
    >>> split_sentences("It works. Really? Yes")
    ['It works.', 'Really?', 'Yes']
"""

from __future__ import annotations

import collections
import re
import string
from functools import lru_cache
from typing import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def normalize_answer(s: str) -> str:
    """The official SQuAD normalisation: lower, drop punctuation and articles, fix white space."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _gold_list(reference) -> list[str]:
    # An unanswerable question has no gold answers; the official script scores it against "".
    golds = [reference] if isinstance(reference, str) else list(reference)
    golds = [g for g in golds if normalize_answer(g)]
    return golds or [""]


def _em(pred: str, gold: str) -> float:
    return float(normalize_answer(pred) == normalize_answer(gold))


def _f1(pred: str, gold: str) -> float:
    p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
    if not p or not g:
        # Official rule: if either is no-answer, F1 is 1 when both are, else 0.
        return float(p == g)
    common = collections.Counter(p) & collections.Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def exact_match_examples(predictions: Sequence[str], references: Sequence) -> list[float]:
    """Per example: the max exact match over its gold answers."""
    return [max(_em(p, g) for g in _gold_list(r)) for p, r in zip(predictions, references)]


def token_f1_examples(predictions: Sequence[str], references: Sequence) -> list[float]:
    """Per example: the max token-overlap F1 over its gold answers."""
    return [max(_f1(p, g) for g in _gold_list(r)) for p, r in zip(predictions, references)]


def exact_match(predictions: Sequence[str], references: Sequence) -> float:
    return _mean(exact_match_examples(predictions, references))


def token_f1(predictions: Sequence[str], references: Sequence) -> float:
    return _mean(token_f1_examples(predictions, references))


def split_sentences(text: str) -> list[str]:
    """Sentences by a regular expression (NLTK's punkt data is not available offline)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


@lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)


ROUGE = ("rouge1", "rouge2", "rougeLsum")


def rouge_examples(predictions: Sequence[str], references: Sequence) -> dict[str, list[float]]:
    """Per-example ROUGE-1/2/Lsum F-measures; with several references, the best (by Lsum) counts."""
    out: dict[str, list[float]] = {name: [] for name in ROUGE}
    for pred, ref in zip(predictions, references):
        refs = [ref] if isinstance(ref, str) else list(ref)
        pred_lines = "\n".join(split_sentences(pred))
        best = None
        for r in refs:
            scores = _scorer().score("\n".join(split_sentences(r)), pred_lines)
            if best is None or scores["rougeLsum"].fmeasure > best["rougeLsum"].fmeasure:
                best = scores
        for name in ROUGE:
            out[name].append(best[name].fmeasure if best is not None else 0.0)
    return out


def rouge_scores(predictions: Sequence[str], references: Sequence) -> dict[str, float]:
    """Mean ROUGE-1/2/Lsum F-measures."""
    return mean_scores(rouge_examples(predictions, references))


def example_scores(names: Sequence[str], predictions: Sequence[str], references: Sequence) -> dict[str, list[float]]:
    """Per-example scores of every named text metric (each metric is the mean of its list).

    Tables bootstrap over these (``bomf.reports.stats``), so no metric is recomputed per resample.
    """
    out: dict[str, list[float]] = {}
    if any(n in ROUGE for n in names):
        out.update({k: v for k, v in rouge_examples(predictions, references).items() if k in names})
    if "exact_match" in names:
        out["exact_match"] = exact_match_examples(predictions, references)
    if "token_f1" in names:
        out["token_f1"] = token_f1_examples(predictions, references)
    return {n: out[n] for n in names}


def mean_scores(per_example: dict[str, list[float]]) -> dict[str, float]:
    """Each metric's value: the mean of its per-example scores."""
    return {name: _mean(values) for name, values in per_example.items()}


def rouge1(predictions, references) -> float:
    return rouge_scores(predictions, references)["rouge1"]


def rouge2(predictions, references) -> float:
    return rouge_scores(predictions, references)["rouge2"]


def rougeLsum(predictions, references) -> float:  # noqa: N802 (the metric's usual name)
    return rouge_scores(predictions, references)["rougeLsum"]


TEXT_METRICS = {
    "exact_match": exact_match,
    "token_f1": token_f1,
    "rouge1": rouge1,
    "rouge2": rouge2,
    "rougeLsum": rougeLsum,
}
