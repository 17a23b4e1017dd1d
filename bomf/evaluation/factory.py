"""The evaluator a task needs: classification/regression or generation.

Example:
    >>> from bomf.tasks import get_task, Split
    >>> from bomf.models import get_model
    >>> spec = get_model("tiny-bert")
    >>> split = Split(text_a=["fine", "awful"], text_b=None, labels=[1, 0])
    >>> type(make_evaluator(get_task("rt-polarity"), spec, spec.load_tokenizer(), split)).__name__
    'Evaluator'
"""

from __future__ import annotations

import torch

from ..tasks.base import Split, Task
from .classification import Evaluator
from .generation import GenerationEvaluator


# Decoding keeps a [batch, length, vocabulary] tensor of logits alive; with a 49k vocabulary and
# 400-token prompts, more than 16 rows is gigabytes for little speed-up.
GENERATION_BATCH_CAP = 16


def make_evaluator(task: Task, spec, tokenizer, split: Split, batch_size: int = 128, max_length: int | None = None,
                   device: str | torch.device = "cpu", split_name: str | None = None,
                   max_target_length: int | None = None, mixed_precision: str | None = None):
    """The evaluator a task needs: ``Evaluator`` (classification, regression) or
    ``GenerationEvaluator`` (generation tasks; ``spec`` is the model, which decides the prompt)."""
    if task.is_generation:
        return GenerationEvaluator(task, spec, tokenizer, split, min(batch_size, GENERATION_BATCH_CAP), max_length,
                                   device=device, split_name=split_name, max_target_length=max_target_length,
                                   mixed_precision=mixed_precision)
    return Evaluator(task, tokenizer, split, batch_size, max_length, device=device, split_name=split_name,
                     mixed_precision=mixed_precision)
