"""What a trajectory is: its training config, its request, its identity and member schedule.

A ``TrajectoryRequest`` names everything that determines a trajectory; ``identity()`` spells
it out and ``key()`` hashes it into the content address of the trajectory's cache folder:
task, model, seed, split limits, every training-config field, a fingerprint of the task's
loaded splits (after limits) and of the model's weights and tokenizer, the registry defaults
that shape a run (LoRA rank and targets, chat template, length and decoding bounds), the
device and precision, and ``TRAINER_VERSION``. Fingerprints are computed once per process.

Every ``TrainConfig`` field is declared once (type and range, ``bomf.core.options``) and
checked when a config is made: a suite's ``[train]`` table, CLI flags and stage-1 choices get
the same one-line errors.

Example:
    >>> cfg = TrainConfig(epochs=1, num_members=3)
    >>> member_steps(total_steps=10, num_members=3, start_fraction=0.5)
    [5, 8, 10]
    >>> req = TrajectoryRequest(task="rt-polarity", model="minilm", seed=0, config=cfg)
    >>> len(req.key())
    16
    >>> TrainConfig(batch_size="16")
    Traceback (most recent call last):
    ...
    bomf.core.errors.BomfError: training config: batch_size must be an int >= 1, got '16' (text); write 16 without quotes
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Annotated

from ..core.device import compute_identity
from ..core.errors import BomfError
from ..core.fingerprint import content_key
from ..core.options import Range, declare_fields
from ..models import get_model
from ..tasks import SplitLimits, get_task

# Bump when a change to the trainer (or to the evaluator, model construction, LoRA, encoding)
# changes what a trajectory contains: it is part of the cache key, so old trajectories are not
# mistaken for new ones. tests/fusion/test_reproducible.py compares a tiny trajectory with the
# behaviour recorded for this version in bomf/training/behaviour.json and fails when it changed.
# 2: keys hold data/model fingerprints, every config field, registry defaults, device, precision.
TRAINER_VERSION = "2"

Positive = Annotated[int, Range(1)]
Fraction = Annotated[float, Range(0, 1)]


@dataclass(frozen=True)
class TrainConfig:
    """Fine-tuning hyperparameters and the member schedule.

    ``num_members`` members are taken evenly from ``start_fraction`` of training to the end;
    the SWA average is updated every ``swa_every`` optimizer steps over the same phase.
    ``freeze_layers > 0`` trains the stage-1 proxy instead of the full model.
    Generation tasks: ``lora_rank`` None = the model's default (``ModelSpec.default_lora_rank``;
    0 = fine-tune every weight), ``lora_alpha`` None = 2 x rank; ``max_target_length`` None =
    the task's bound.
    """

    lr: Annotated[float, Range(0, 10, low_open=True)] = 5e-5
    batch_size: Positive = 32
    epochs: Positive = 3
    warmup_ratio: Fraction = 0.06
    weight_decay: Annotated[float, Range(0)] = 0.01
    max_grad_norm: Annotated[float, Range(0)] = 1.0  # 0: no clipping
    num_members: Positive = 10
    start_fraction: Annotated[float, Range(0, 1, high_open=True)] = 0.5
    swa_every: Positive = 1
    freeze_layers: Annotated[int, Range(0)] = 0
    max_length: Positive | None = None
    max_steps: Positive | None = None
    eval_batch_size: Positive = 128
    lora_rank: Annotated[int, Range(0)] | None = None
    lora_alpha: Annotated[float, Range(0, None, low_open=True)] | None = None
    lora_dropout: Annotated[float, Range(0, 1, high_open=True)] = 0.0
    max_target_length: Positive | None = None

    def __post_init__(self) -> None:
        # Checked and normalised (16 and 16.0 give one lora_alpha, hence one cache key).
        for name, option in TRAIN_OPTIONS.items():
            object.__setattr__(self, name, option.check(getattr(self, name), where="training config:"))


TRAIN_OPTIONS = declare_fields(TrainConfig, owner="training config")


def config_identity(config: TrainConfig) -> dict:
    return asdict(config)


def registry_defaults(task_name: str, model_name: str, config: TrainConfig) -> dict:
    """What the task and model registries decide for a run and the config leaves open: the
    resolved LoRA rank and targets, the chat template, length and decoding bounds."""
    task, spec = get_task(task_name), get_model(model_name)
    rank = resolve_lora_rank(model_name, config) if task.is_generation else 0
    return {"arch": spec.arch, "chat_template": spec.chat_template, "lora_rank": rank,
            "lora_targets": list(spec.lora_targets) if rank else [],
            "max_length": config.max_length or task.max_length,
            "max_target_length": (config.max_target_length or task.max_target_length) if task.is_generation else None,
            "max_new_tokens": task.max_new_tokens if task.is_generation else None}


@dataclass(frozen=True)
class TrajectoryRequest:
    task: str
    model: str
    seed: int
    config: TrainConfig = field(default_factory=TrainConfig)
    limits: SplitLimits | None = None
    device: str = "auto"  # where it trains: "auto", "cpu" or "cuda" (its kind enters the key)
    precision: str = "auto"  # "auto" (bf16 on a CUDA GPU with native bf16), "fp32" or "bf16": the one used enters the key

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise BomfError(f"seed must be a non-negative integer, got {self.seed!r}")

    def resolved_limits(self) -> SplitLimits:
        return self.limits if self.limits is not None else get_task(self.task).default_limits

    def on_device(self, device: str | None, precision: str | None = None) -> "TrajectoryRequest":
        """This request trained on ``device`` at ``precision`` (None: what it says)."""
        changes = {k: v for k, v in (("device", device), ("precision", precision))
                   if v is not None and v != getattr(self, k)}
        return replace(self, **changes) if changes else self

    def identity(self) -> dict:
        limits = self.resolved_limits()
        return {
            "task": self.task,
            "model": self.model,
            "seed": self.seed,
            "config": config_identity(self.config),
            "limits": asdict(limits),
            "data": get_task(self.task).data_fingerprint(limits),
            "weights": get_model(self.model).fingerprint(),
            "defaults": registry_defaults(self.task, self.model, self.config),
            "compute": compute_identity(self.device, self.precision),
            "trainer_version": TRAINER_VERSION,
        }

    def key(self) -> str:
        """Content address: a hash of everything that determines the trajectory."""
        return content_key(self.identity())


def member_steps(total_steps: int, num_members: int, start_fraction: float) -> list[int]:
    """Optimizer steps (1-based) at which members are taken: evenly from the start to the end.

    The first member is at ``ceil(start_fraction * total_steps)`` (at least step 1), the last
    at ``total_steps``; with fewer distinct steps than members, each step is used once.
    """
    start = max(1, math.ceil(start_fraction * total_steps))
    if num_members == 1:
        return [total_steps]
    steps = [round(start + i * (total_steps - start) / (num_members - 1)) for i in range(num_members)]
    return sorted(set(steps))


def resolve_lora_rank(model: str, config: TrainConfig) -> int:
    """The LoRA rank ``config`` trains ``model`` with (0: every weight); encoders never use LoRA here."""
    spec = get_model(model)
    if not spec.is_generator:
        return 0
    return spec.default_lora_rank if config.lora_rank is None else config.lora_rank


def lora_rank(request: TrajectoryRequest) -> int:
    return resolve_lora_rank(request.model, request.config)


def with_config(request: TrajectoryRequest, **changes) -> TrajectoryRequest:
    return replace(request, config=replace(request.config, **changes))
