"""What a trajectory is: its training config, its request, its identity and member schedule.

A ``TrajectoryRequest`` names everything that determines a trajectory (task, model, seed,
split limits, training config, trainer version); ``key()`` hashes it into the content address
of the trajectory's cache folder.

Example:
    >>> cfg = TrainConfig(epochs=1, num_members=3)
    >>> member_steps(total_steps=10, num_members=3, start_fraction=0.5)
    [5, 8, 10]
    >>> req = TrajectoryRequest(task="rt-polarity", model="minilm", seed=0, config=cfg)
    >>> len(req.key())
    16
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace

from ..core.errors import BomfError
from ..models import get_model
from ..tasks import SplitLimits, get_task

# Bump when a change to the trainer changes what a trajectory contains: it is part of the
# cache key, so old trajectories are not mistaken for new ones.
TRAINER_VERSION = "1"


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

    lr: float = 5e-5
    batch_size: int = 32
    epochs: int = 3
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    num_members: int = 10
    start_fraction: float = 0.5
    swa_every: int = 1
    freeze_layers: int = 0
    max_length: int | None = None
    max_steps: int | None = None
    eval_batch_size: int = 128
    lora_rank: int | None = None
    lora_alpha: float | None = None
    lora_dropout: float = 0.0
    max_target_length: int | None = None

    def __post_init__(self) -> None:
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise BomfError(f"learning rate must be a positive number, got {self.lr}")
        if self.batch_size < 1 or self.epochs < 1 or self.num_members < 1:
            raise BomfError("batch_size, epochs and num_members must be at least 1")
        if not 0.0 <= self.start_fraction < 1.0:
            raise BomfError(f"start_fraction must be in [0, 1), got {self.start_fraction}")
        if self.lora_rank is not None and self.lora_rank < 0:
            raise BomfError(f"lora_rank must be 0 (no LoRA) or more, got {self.lora_rank}")
        if self.lora_alpha is not None:  # 16 and 16.0 must give one cache key
            object.__setattr__(self, "lora_alpha", float(self.lora_alpha))


# Fields added after trajectories were first cached. They enter a trajectory's identity only when
# set, so the keys (and the committed results that name them) of existing trajectories stay valid.
_LATER_FIELDS = {"lora_rank": None, "lora_alpha": None, "lora_dropout": 0.0, "max_target_length": None}


def config_identity(config: TrainConfig) -> dict:
    out = asdict(config)
    for name, default in _LATER_FIELDS.items():
        if out[name] == default:
            del out[name]
    return out


@dataclass(frozen=True)
class TrajectoryRequest:
    task: str
    model: str
    seed: int
    config: TrainConfig = field(default_factory=TrainConfig)
    limits: SplitLimits | None = None

    def resolved_limits(self) -> SplitLimits:
        return self.limits if self.limits is not None else get_task(self.task).default_limits

    def identity(self) -> dict:
        return {
            "task": self.task,
            "model": self.model,
            "seed": self.seed,
            "config": config_identity(self.config),
            "limits": asdict(self.resolved_limits()),
            "trainer_version": TRAINER_VERSION,
        }

    def key(self) -> str:
        """Content address: a hash of everything that determines the trajectory."""
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


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
