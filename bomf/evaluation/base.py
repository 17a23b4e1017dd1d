"""What every evaluator shares: the result of one pass, the task losses, the split plumbing.

An evaluator turns a model into an ``EvalResult`` (loss, every metric, counts, seconds) on one
fixed split. ``task_loss`` is the loss the models train on; ``SplitEvaluator`` holds a split's
references, its padded batches and its precision.

Example:
    >>> import torch
    >>> from bomf.tasks import get_task
    >>> round(float(task_loss(get_task("rt-polarity"), torch.tensor([[0.0, 0.0]]), torch.tensor([1]))), 4)  # log 2
    0.6931
    >>> EvalResult(loss=0.5, metrics={"accuracy": 1.0}, n=2).to_dict()["n"]
    2
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from ..tasks.base import Task


@dataclass
class EvalResult:
    """Loss and metrics of one pass over a split (``extra``: predictions, labels, per-example scores)."""

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
    ``__call__``. ``mixed_precision="bf16"`` evaluates under bf16 autocast (on CUDA, or on a CPU
    when asked for), as training evaluated the members, so members and fused models are scored
    at one precision.
    """

    labels: list
    _batches: list[dict[str, torch.Tensor]]
    device: torch.device
    mixed_precision: str | None = None

    def precision(self):
        enabled = self.mixed_precision == "bf16"
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def batches(self) -> list[dict[str, torch.Tensor]]:
        """The padded batches (inputs and ``labels``), e.g. for gradient-based soups."""
        return self._batches
