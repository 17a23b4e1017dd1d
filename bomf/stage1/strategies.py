"""Stage 1: how the fine-tuning hyperparameters of a trajectory are chosen.

A strategy takes (task, model, seed, base training config, split limits, options) and returns
the config the full model is then trained with, plus what choosing it cost.

- ``default``: the suite's fixed hyperparameters; no search, no cost.
- ``bomf``: BOMF's stage 1, GP-BO (qLogEI) over learning rate and batch size on the
  lightweight proxy (bottom half of the layers and the embeddings frozen).
- ``hpbo_full``: the same BO on the full model (what the proxy must beat on cost).
- ``grid``: a small grid on the full model (the paper's "grid fine-tune").

Options (suite table ``[stage1_options.<name>]``, ``bomf stage1 --option``): ``trials``,
``n_init``, ``freeze_layers`` (default: half the layers, proxy only), ``proxy_rank`` (LoRA
models: the proxy's adapter rank, default a quarter of the trajectory's), ``trial_epochs``
(default: the suite's epochs), ``patience`` (early stopping, in evaluations), ``lr`` and
``batch_size`` ([low, high]), and for ``grid``: ``lrs`` and ``batch_sizes``. Each is declared
once by its annotation (``bomf.core.options``) and checked before any compute.

Example:
    >>> from bomf.training import TrainConfig
    >>> get_stage1("default").choose("rt-polarity", "minilm", 0, TrainConfig(), None).config.lr
    5e-05
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Callable

from ..core.errors import BomfError
from ..core.options import Increasing, Option, Range, declare_options, resolve_options
from ..core.registry import Registry
from ..tasks import SplitLimits
from ..training.request import TrainConfig, resolve_lora_rank


@dataclass
class Stage1Result:
    config: TrainConfig
    costs: dict = field(default_factory=lambda: {"trials": 0, "optimizer_steps": 0, "seconds": 0.0, "flops_estimate": 0})
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Stage1Strategy:
    name: str
    description: str
    fn: Callable[..., Stage1Result]
    options: dict[str, Option]  # option name -> its declaration (type, range, default)
    # True when the strategy computes through bomf.stage1.search.search (a trial journal), so a
    # finished choice can be read back without compute (``journal_only``); planning reads back
    # only such strategies and never calls another one.
    journaled: bool = False

    def resolve_options(self, options: dict[str, Any], where: str | None = None) -> dict[str, Any]:
        """Every option's effective value (defaults filled in), checked (one-line ``BomfError``)."""
        return resolve_options(self.options, options, where or f"stage-1 strategy {self.name}:",
                               what=f"stage-1 strategy {self.name}")

    def check_options(self, options: dict) -> None:
        self.resolve_options(options)

    def choose(self, task: str, model: str, seed: int, base: TrainConfig, limits: SplitLimits | None,
               **options) -> Stage1Result:
        return self.fn(task, model, seed, base, limits, **self.resolve_options(options))


STAGE1: Registry[Stage1Strategy] = Registry("stage-1 strategy")


def register_stage1(name: str, description: str, journaled: bool = False):
    """Decorator: register ``fn(task, model, seed, base, limits, *, option=default, ...)``.

    ``journaled=True`` says that ``fn`` computes only through ``bomf.stage1.search.search`` (or
    returns without compute), so the harness may read a finished choice back from its journal
    while it plans; a strategy without it is run again whenever its group runs."""

    def wrap(fn):
        options = declare_options(fn, skip=5, owner=f"stage-1 strategy {name}")
        STAGE1.register(name, Stage1Strategy(name=name, description=description, fn=fn, options=options,
                                             journaled=journaled))
        return fn

    return wrap


# Declarations shared by the strategies' options.
Trials = Annotated[int, Range(1, 10_000)]
Epochs = Annotated[int, Range(1)] | None
Patience = Annotated[int, Range(1)] | None
LrInterval = Annotated[tuple[float, float], Range(0, 1, low_open=True), Increasing()]
BatchInterval = Annotated[tuple[int, int], Range(1, 100_000), Increasing()]


def get_stage1(name: str) -> Stage1Strategy:
    return STAGE1.get(name)


@register_stage1("default", "fixed, commonly used hyperparameters (the suite's [train] table); no search")
def default(task, model, seed, base, limits):
    return Stage1Result(config=base)


def _half_the_layers(model: str) -> int:
    from ..models import find_layer_list, get_model

    spec = get_model(model)
    built = spec.build_generator(seed=0) if spec.is_generator else spec.build_classifier(2, seed=0)
    return len(find_layer_list(built)) // 2


def _bo(task, model, seed, base, limits, *, freeze_layers, trials, n_init, trial_epochs, patience, lr, batch_size,
        proxy_rank=None):
    from .search import SearchSpace, search

    trial_base = replace(base, epochs=trial_epochs or base.epochs)
    if proxy_rank is not None:
        rank = resolve_lora_rank(model, base)
        # LoRA scales updates by alpha / rank: keep that ratio so the proxy's best lr transfers.
        alpha = None if base.lora_alpha is None else base.lora_alpha * proxy_rank / rank
        trial_base = replace(trial_base, lora_rank=proxy_rank, lora_alpha=alpha)
    space = SearchSpace(lr=tuple(lr), batch_size=tuple(batch_size))
    res = search(task, model, seed, trial_base, limits, strategy="bo", trials=trials, freeze_layers=freeze_layers,
                 space=space, n_init=n_init, patience=patience)
    return _result(base, res, freeze_layers, proxy_rank)


def _result(base, res, freeze_layers, proxy_rank=None) -> Stage1Result:
    from dataclasses import asdict

    info = {"chosen": res.best, "freeze_layers": freeze_layers, "trials": [asdict(t) for t in res.trials]}
    if proxy_rank is not None:
        info["proxy_lora_rank"] = proxy_rank
    return Stage1Result(config=replace(base, **res.best), costs=res.costs, info=info)


@register_stage1("bomf", "BOMF stage 1: GP-BO over lr and batch size on the proxy (bottom half frozen, "
                         "or a smaller LoRA rank for LoRA models)", journaled=True)
def bomf_stage1(task, model, seed, base, limits, *, trials: Trials = 6, n_init: Annotated[int, Range(1, 1000)] = 3,
                freeze_layers: Annotated[int, Range(0)] | None = None, proxy_rank: Annotated[int, Range(1)] | None = None,
                trial_epochs: Epochs = None, patience: Patience = 3, lr: LrInterval = (1e-5, 3e-4),
                batch_size: BatchInterval = (8, 64)):
    rank = resolve_lora_rank(model, base)
    if rank > 0 and freeze_layers is None:
        # The paper's proxy for LoRA models: the same model with a smaller adapter rank.
        pr = max(1, rank // 4) if proxy_rank is None else int(proxy_rank)
        if pr >= rank:
            raise BomfError(f"proxy_rank {pr} is not below the trajectory's LoRA rank {rank}; choose a smaller one")
        return _bo(task, model, seed, base, limits, freeze_layers=0, trials=trials, n_init=n_init,
                   trial_epochs=trial_epochs, patience=patience, lr=lr, batch_size=batch_size, proxy_rank=pr)
    if proxy_rank is not None:
        raise BomfError(f"proxy_rank applies to LoRA models; {model} fine-tunes every weight here: use freeze_layers")
    n = _half_the_layers(model) if freeze_layers is None else freeze_layers
    return _bo(task, model, seed, base, limits, freeze_layers=n, trials=trials, n_init=n_init,
               trial_epochs=trial_epochs, patience=patience, lr=lr, batch_size=batch_size)


@register_stage1("hpbo_full", "the same GP-BO over lr and batch size on the full model", journaled=True)
def hpbo_full(task, model, seed, base, limits, *, trials: Trials = 6, n_init: Annotated[int, Range(1, 1000)] = 3,
              trial_epochs: Epochs = None, patience: Patience = 3, lr: LrInterval = (1e-5, 3e-4),
              batch_size: BatchInterval = (8, 64)):
    return _bo(task, model, seed, base, limits, freeze_layers=0, trials=trials, n_init=n_init,
               trial_epochs=trial_epochs, patience=patience, lr=lr, batch_size=batch_size)


@register_stage1("grid", "a small grid over lr x batch size on the full model (grid fine-tune)", journaled=True)
def grid(task, model, seed, base, limits, *,
         lrs: Annotated[tuple[float, ...], Range(0, 1, low_open=True)] = (2e-5, 5e-5, 1e-4),
         batch_sizes: Annotated[tuple[int, ...], Range(1, 100_000)] = (16, 32), trial_epochs: Epochs = None,
         patience: Patience = None):
    from .search import search

    points = [{"lr": float(a), "batch_size": int(b)} for a in lrs for b in batch_sizes]
    trial_base = replace(base, epochs=trial_epochs or base.epochs)
    res = search(task, model, seed, trial_base, limits, strategy="grid", trials=len(points), grid=points,
                 patience=patience)
    return _result(base, res, 0)
