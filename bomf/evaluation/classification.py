"""Classification and regression: one pass over a split gives the loss and every metric.

The split is tokenised and batched once, when the ``Evaluator`` is built; every call after
that only runs the model (``torch.inference_mode``), which is what the BO loop needs: it
evaluates the same val split dozens of times with different fused weights.

Example:
    >>> from bomf.tasks import get_task, Split
    >>> from bomf.models import get_model
    >>> task = get_task("rt-polarity")
    >>> spec = get_model("tiny-bert")
    >>> split = Split(text_a=["fine", "awful", "great fun"], text_b=None, labels=[1, 0, 1])
    >>> ev = Evaluator(task, spec.load_tokenizer(), split)
    >>> res = ev(spec.build_classifier(num_labels=2, seed=0))
    >>> sorted(res.metrics), res.n
    (['accuracy', 'f1'], 3)
"""

from __future__ import annotations

import time

import torch

from ..metrics import compute_metrics
from ..tasks.base import Split, Task
from ..tasks.encoding import EncodedSplit, collate, encode_split, sorted_batches
from .base import EvalResult, SplitEvaluator, predictions_from_logits, task_loss


class Evaluator(SplitEvaluator):
    """Loss and metrics of a model on one fixed split.

    ``batch_size`` examples per forward pass, length-sorted so padding is minimal; padded
    batches are built once and kept (a few MB for thousands of sentences).
    """

    def __init__(self, task: Task, tokenizer, split: Split | EncodedSplit, batch_size: int = 128,
                 max_length: int | None = None, device: str | torch.device = "cpu", split_name: str | None = None,
                 mixed_precision: str | None = None):
        self.task = task
        self.mixed_precision = mixed_precision
        # Which split this is ("val", "test"): the fusion objective accepts only "val".
        self.split_name = split_name
        self.device = torch.device(device)
        enc = split if isinstance(split, EncodedSplit) else encode_split(tokenizer, split, max_length or task.max_length)
        self.encoded = enc
        self.labels = list(enc.labels)
        self._order: list[int] = []
        self._batches: list[dict[str, torch.Tensor]] = []
        for idx in sorted_batches(enc.lengths(), batch_size):
            self._order.extend(idx)
            self._batches.append({k: v.to(self.device) for k, v in collate(enc, idx).items()})
        self.tokens = sum(b["input_ids"].numel() for b in self._batches)

    def batch_loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor], forward=None) -> torch.Tensor:
        """Mean loss of one batch (differentiable); ``forward`` replaces ``model(**inputs)``."""
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        return task_loss(self.task, (forward or model)(**inputs).logits, batch["labels"])

    @torch.inference_mode()
    def __call__(self, model: torch.nn.Module, keep_predictions: bool = False) -> EvalResult:
        """Loss and metrics; ``keep_predictions`` adds per-example predictions and labels to
        ``extra`` (the pipeline keeps them for test, so tables can run paired tests)."""
        start = time.perf_counter()
        was_training = model.training
        model.eval()
        loss_sum = 0.0
        preds_sorted: list = []
        for batch in self._batches:
            inputs = {k: v for k, v in batch.items() if k != "labels"}
            with self.precision():
                logits = model(**inputs).logits
            loss_sum += float(task_loss(self.task, logits, batch["labels"], reduction="sum"))
            preds_sorted.extend(predictions_from_logits(self.task, logits))
        if was_training:
            model.train()
        preds = [None] * len(preds_sorted)
        for pos, i in enumerate(self._order):
            preds[i] = preds_sorted[pos]
        n = len(preds)
        return EvalResult(
            loss=loss_sum / n,
            metrics=compute_metrics(self.task.metrics, preds, self.labels),
            n=n,
            seconds=time.perf_counter() - start,
            tokens=self.tokens,
            extra={"predictions": preds, "labels": self.labels} if keep_predictions else {},
        )
