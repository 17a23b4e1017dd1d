"""Scoring a model on one split: one pass gives the loss and every metric of the task.

``base`` (``EvalResult``, ``task_loss``, ``SplitEvaluator``), ``classification`` (``Evaluator``),
``generation`` (teacher-forced loss + batched greedy decoding, ``GenerationEvaluator``) and
``factory.make_evaluator``, which picks the kind a task needs.

Example:
    >>> from bomf.evaluation import make_evaluator, EvalResult
    >>> EvalResult(loss=0.1, metrics={}, n=1).n
    1
"""

from .base import EvalResult, SplitEvaluator, predictions_from_logits, task_loss
from .classification import Evaluator
from .factory import GENERATION_BATCH_CAP, make_evaluator
from .generation import GenerationEvaluator

__all__ = ["EvalResult", "Evaluator", "GENERATION_BATCH_CAP", "GenerationEvaluator", "SplitEvaluator",
           "make_evaluator", "predictions_from_logits", "task_loss"]
