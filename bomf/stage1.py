"""Stage 1: how the fine-tuning hyperparameters of a trajectory are chosen.

A strategy takes (task, model, seed, base training config, split limits) and returns the config
the full model is trained with, plus what choosing it cost. ``default`` keeps the suite's
fixed hyperparameters and costs nothing. Strategies register like methods do.

Example:
    >>> from bomf.trajectory import TrainConfig
    >>> get_stage1("default").choose("rt-polarity", "minilm", 0, TrainConfig(), None).config.lr
    5e-05
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .registry import Registry
from .tasks import SplitLimits
from .trajectory import TrainConfig


@dataclass
class Stage1Result:
    config: TrainConfig
    costs: dict = field(default_factory=lambda: {"trials": 0, "optimizer_steps": 0, "seconds": 0.0, "flops_estimate": 0})
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Stage1Strategy:
    name: str
    description: str
    choose: Callable[[str, str, int, TrainConfig, SplitLimits | None], Stage1Result]


STAGE1: Registry[Stage1Strategy] = Registry("stage-1 strategy")


def register_stage1(strategy: Stage1Strategy) -> Stage1Strategy:
    return STAGE1.register(strategy.name, strategy)


def get_stage1(name: str) -> Stage1Strategy:
    return STAGE1.get(name)


register_stage1(Stage1Strategy(
    name="default",
    description="fixed, commonly used hyperparameters (the suite's [train] table); no search",
    choose=lambda task, model, seed, base, limits: Stage1Result(config=base),
))
