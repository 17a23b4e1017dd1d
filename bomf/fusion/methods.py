"""One protocol and one registry for every fusion method: BOMF, its ablations, all baselines.

A method is a function ``(objective, pool, budget, seed, **options) -> FusionResult``. Its
keyword-only parameters are its options (a suite may set them by name); its docstring's first
line is its description in ``bomf list methods``. Register it with the decorator; modules in
``bomf/fusion/builtin/`` and in the top-level ``baselines/`` package are found on their own.

Example:
    >>> @register_method("first_member_demo", search=False)
    ... def first_member_demo(objective, pool, budget, seed):
    ...     '''Weight 1 on member 0 (a demo).'''
    ...     w = [1.0] + [0.0] * (pool.size - 1)
    ...     return FusionResult(weights=w, evaluation=objective(w))
    >>> get_method("first_member_demo").description
    'Weight 1 on member 0 (a demo).'
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.errors import BomfError
from ..core.registry import Registry
from .objective import Evaluation


@dataclass
class FusionResult:
    """What a method returns: the chosen weights (or a state for non-weighted models like SWA),
    the val evaluation of the choice, and anything the method wants recorded."""

    weights: list[float] | None
    evaluation: Evaluation
    state_source: str | None = None  # e.g. "swa": the pipeline rebuilds that state for test
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodSpec:
    name: str
    fn: Callable[..., FusionResult]
    description: str
    search: bool  # spends a budget of fused evaluations (BO, random search, SMAC)
    options: dict[str, Any]  # option name -> default

    def check_options(self, options: dict[str, Any]) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise BomfError(f"method {self.name} has no option {unknown[0]!r}; its options: {known}")

    def run(self, objective, pool, budget: int, seed: int, **options) -> FusionResult:
        self.check_options(options)
        return self.fn(objective, pool, budget, seed, **options)


# The baselines: bomf.baselines in an installed wheel (pyproject maps the folder there), else the
# repository's top-level baselines/ folder.
METHODS: Registry[MethodSpec] = Registry("method", packages=("bomf.fusion.builtin", ("bomf.baselines", "baselines")),
                                         entry_point_group="bomf.methods")


def register_method(name: str, search: bool = True, description: str | None = None):
    """Decorator: register ``fn(objective, pool, budget, seed, *, option=default, ...)``."""

    def wrap(fn: Callable[..., FusionResult]) -> Callable[..., FusionResult]:
        params = list(inspect.signature(fn).parameters.values())
        if [p.name for p in params[:4]] != ["objective", "pool", "budget", "seed"]:
            raise BomfError(f"method {name} must take (objective, pool, budget, seed, *, options...)")
        options = {p.name: p.default for p in params[4:] if p.kind == p.KEYWORD_ONLY}
        doc = description or (inspect.getdoc(fn) or name).splitlines()[0]
        METHODS.register(name, MethodSpec(name=name, fn=fn, description=doc, search=search, options=options))
        return fn

    return wrap


def get_method(name: str) -> MethodSpec:
    return METHODS.get(name)
