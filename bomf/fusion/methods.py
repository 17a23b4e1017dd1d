"""One protocol and one registry for every fusion method: BOMF, its ablations, all baselines.

A method is a function ``(objective, pool, budget, seed, **options) -> FusionResult``. Its
keyword-only parameters are its options (a suite may set them by name), declared once by their
annotations (``bomf.core.options``: type, range or choices; an unannotated option takes the
type of its default). That one declaration checks a suite or ``--option`` before any compute,
lists the option in ``bomf list methods``, and gives every option's effective value (defaults
included) to the fusion's cache key and record. The docstring's first line is the method's
description. Register it with the decorator; modules in ``bomf/fusion/builtin/`` and in the
top-level ``baselines/`` package are found on their own.

Example:
    >>> @register_method("first_member_demo", search=False)
    ... def first_member_demo(objective, pool, budget, seed):
    ...     '''Weight 1 on member 0 (a demo).'''
    ...     w = [1.0] + [0.0] * (pool.size - 1)
    ...     return FusionResult(weights=w, evaluation=objective(w))
    >>> get_method("first_member_demo").description
    'Weight 1 on member 0 (a demo).'
    >>> from typing import Annotated
    >>> from bomf.core.options import Range
    >>> @register_method("scaled_demo", search=False)
    ... def scaled_demo(objective, pool, budget, seed, *, scale: Annotated[float, Range(0, 1)] = 0.5):
    ...     '''A demo with one option.'''
    >>> get_method("scaled_demo").resolve_options({})
    {'scale': 0.5}
    >>> get_method("scaled_demo").resolve_options({"scale": 2})
    Traceback (most recent call last):
    ...
    bomf.core.errors.BomfError: method scaled_demo: scale must be a float in [0, 1], got 2; e.g. 0.5
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.errors import BomfError
from ..core.options import Option, declare_options, resolve_options
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
    options: dict[str, Option]  # option name -> its declaration (type, range or choices, default)
    # The method's own behaviour version: bump it (register_method(..., version=N)) when this
    # method's results change, so that only its cached fusions are recomputed (FUSION_VERSION is
    # for changes that move every method: the pool, the objective, the evaluator, the BO core).
    version: int = 1

    def resolve_options(self, options: dict[str, Any], where: str | None = None) -> dict[str, Any]:
        """Every option's effective value (defaults filled in), checked: a one-line ``BomfError``
        names an unknown option, or a value of the wrong type or out of range, and the fix."""
        return resolve_options(self.options, options, where or f"method {self.name}:", what=f"method {self.name}")

    def check_options(self, options: dict[str, Any]) -> None:
        self.resolve_options(options)

    def run(self, objective, pool, budget: int, seed: int, **options) -> FusionResult:
        return self.fn(objective, pool, budget, seed, **self.resolve_options(options))


# The baselines: bomf.baselines in an installed wheel (pyproject maps the folder there), else the
# repository's top-level baselines/ folder.
METHODS: Registry[MethodSpec] = Registry("method", packages=("bomf.fusion.builtin", ("bomf.baselines", "baselines")),
                                         entry_point_group="bomf.methods")


def register_method(name: str, search: bool = True, description: str | None = None, version: int = 1):
    """Decorator: register ``fn(objective, pool, budget, seed, *, option=default, ...)``.

    ``version`` is the method's behaviour version (part of its fusions' cache key from 2 on):
    bump it when a change alters what this method returns.

    Options are keyword-only; a declaration that cannot be checked (an annotation bomf does not
    understand, a default of None without an annotation, a default outside its own range) is
    refused here, when the module is imported, with one line saying what to write instead.
    """

    def wrap(fn: Callable[..., FusionResult]) -> Callable[..., FusionResult]:
        params = list(inspect.signature(fn).parameters.values())
        if [p.name for p in params[:4]] != ["objective", "pool", "budget", "seed"]:
            raise BomfError(f"method {name} must take (objective, pool, budget, seed, *, options...)")
        positional = [p.name for p in params[4:] if p.kind not in (p.KEYWORD_ONLY, p.VAR_KEYWORD)]
        if positional:
            raise BomfError(f"method {name}: option {positional[0]} must be keyword-only; put `*,` before it")
        options = declare_options(fn, skip=4, owner=f"method {name}")
        doc = description or (inspect.getdoc(fn) or name).splitlines()[0]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise BomfError(f"method {name}: version must be a positive integer, got {version!r}")
        METHODS.register(name, MethodSpec(name=name, fn=fn, description=doc, search=search, options=options,
                                          version=version))
        return fn

    return wrap


def get_method(name: str) -> MethodSpec:
    return METHODS.get(name)
