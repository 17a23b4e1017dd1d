"""Task metrics computed locally (``evaluate.load`` needs the Hub, which we may not have).

Every metric takes ``(predictions, references)`` as sequences and returns a float.
Classification metrics take predicted class ids; regression metrics take real values.
All metrics are "higher is better", which the fusion objectives rely on.

Example:
    >>> compute_metrics(("accuracy", "f1"), [1, 0, 1, 1], [1, 0, 0, 1])
    {'accuracy': 0.75, 'f1': 0.8}
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import stats
from sklearn import metrics as skm

from .text import TEXT_METRICS


def accuracy(predictions: Sequence, references: Sequence) -> float:
    return float(skm.accuracy_score(references, predictions))


def f1(predictions: Sequence, references: Sequence) -> float:
    """Binary F1 of the positive class (label 1), as GLUE MRPC/QQP report it."""
    return float(skm.f1_score(references, predictions, pos_label=1, average="binary", zero_division=0))


def macro_f1(predictions: Sequence, references: Sequence) -> float:
    return float(skm.f1_score(references, predictions, average="macro", zero_division=0))


def matthews(predictions: Sequence, references: Sequence) -> float:
    return float(skm.matthews_corrcoef(references, predictions))


def _correlation(fn, predictions, references) -> float:
    p, r = np.asarray(predictions, dtype=float), np.asarray(references, dtype=float)
    # A constant prediction has no defined correlation; 0 is the honest "no signal" score
    # (scipy would return NaN and poison the BO surrogate).
    if p.std() == 0 or r.std() == 0:
        return 0.0
    return float(fn(p, r)[0])


def pearson(predictions: Sequence, references: Sequence) -> float:
    return _correlation(stats.pearsonr, predictions, references)


def spearman(predictions: Sequence, references: Sequence) -> float:
    return _correlation(stats.spearmanr, predictions, references)


METRICS: dict[str, Callable[[Sequence, Sequence], float]] = {
    "accuracy": accuracy,
    "f1": f1,
    "macro_f1": macro_f1,
    "matthews": matthews,
    "pearson": pearson,
    "spearman": spearman,
}


# Metrics of generated text (QA exact match / F1, ROUGE) live in their own module.
METRICS.update(TEXT_METRICS)


def compute_metrics(names: Sequence[str], predictions: Sequence, references: Sequence) -> dict[str, float]:
    """Every named metric on the same predictions, in the order given.

    Generation evaluators score text metrics per example instead (``text_metrics.example_scores``):
    one ROUGE pass gives all three ROUGE metrics and the per-example values the tables need.
    """
    return {name: METRICS[name](predictions, references) for name in names}
