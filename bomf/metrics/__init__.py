"""How predictions are scored, offline: classification and regression metrics (``scores``) and
text metrics (``text``: SQuAD-v2 exact match and F1, ROUGE-1/2/Lsum), per example and averaged.

Example:
    >>> from bomf.metrics import compute_metrics
    >>> compute_metrics(["accuracy"], [1, 0, 1], [1, 1, 1])["accuracy"]
    0.6666666666666666
"""

from .scores import METRICS, compute_metrics
from .text import TEXT_METRICS, example_scores, mean_scores

__all__ = ["METRICS", "TEXT_METRICS", "compute_metrics", "example_scores", "mean_scores"]
