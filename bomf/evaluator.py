"""One pass over a split gives the loss and every metric of the task.

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
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from .data import EncodedSplit, collate, encode_split, sorted_batches
from .metrics import compute_metrics
from .tasks.base import Split, Task


@dataclass
class EvalResult:
    loss: float
    metrics: dict[str, float]
    n: int
    seconds: float = 0.0
    tokens: int = 0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def task_loss(task: Task, logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy for classification, MSE for regression (the losses the models train on)."""
    if task.kind == "regression":
        return F.mse_loss(logits.squeeze(-1).float(), labels.float(), reduction=reduction)
    return F.cross_entropy(logits.float(), labels, reduction=reduction)


def predictions_from_logits(task: Task, logits: torch.Tensor) -> list:
    if task.kind == "regression":
        return logits.squeeze(-1).float().tolist()
    return logits.argmax(-1).tolist()


class SplitEvaluator:
    """What every evaluator shares: its split's references, its padded batches, its precision.

    Subclasses set ``labels``, ``_batches`` and ``device`` and implement ``batch_loss`` and
    ``__call__``. ``mixed_precision="bf16"`` on CUDA evaluates under bf16 autocast, as training
    evaluated the members, so members and fused models are scored at one precision.
    """

    labels: list
    _batches: list[dict[str, torch.Tensor]]
    device: torch.device
    mixed_precision: str | None = None

    def precision(self):
        enabled = self.mixed_precision == "bf16" and self.device.type == "cuda"
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def batches(self) -> list[dict[str, torch.Tensor]]:
        """The padded batches (inputs and ``labels``), e.g. for gradient-based soups."""
        return self._batches


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


# Decoding keeps a [batch, length, vocabulary] tensor of logits alive; with a 49k vocabulary and
# 400-token prompts, more than 16 rows is gigabytes for little speed-up.
GENERATION_BATCH_CAP = 16


def make_evaluator(task: Task, spec, tokenizer, split: Split, batch_size: int = 128, max_length: int | None = None,
                   device: str | torch.device = "cpu", split_name: str | None = None,
                   max_target_length: int | None = None, mixed_precision: str | None = None):
    """The evaluator a task needs: ``Evaluator`` (classification, regression) or
    ``GenerationEvaluator`` (generation tasks; ``spec`` is the model, which decides the prompt)."""
    if task.is_generation:
        from .generation import GenerationEvaluator

        return GenerationEvaluator(task, spec, tokenizer, split, min(batch_size, GENERATION_BATCH_CAP), max_length,
                                   device=device, split_name=split_name, max_target_length=max_target_length,
                                   mixed_precision=mixed_precision)
    return Evaluator(task, tokenizer, split, batch_size, max_length, device=device, split_name=split_name,
                     mixed_precision=mixed_precision)
