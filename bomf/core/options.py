"""Options declared once: a parameter's annotation and default are its type, range and default.

One declaration per option serves validation (before any compute, one line naming the option
and the fix), listings (``bomf list methods``), cache keys (every option's effective value,
defaults included) and records. Fusion methods, stage-1 strategies and ``TrainConfig`` fields
are declared this way.

Annotations understood:

- ``int``, ``float``, ``str``, ``bool``: that type (an int is accepted for a float; a bool is
  never an int; a string is never a number);
- ``Literal["a", "b"]``: one of the choices;
- ``X | None``: X, or None (None: "the default rule", e.g. ``n_init = None`` means K);
- ``tuple[X, X]`` / ``tuple[X, ...]``: a list of X of that length / of any length (TOML arrays);
- ``Annotated[X, Range(low, high)]``: a number (or each element of a tuple) within bounds;
  ``Annotated[tuple[float, float], Range(...), Increasing()]``: a [low, high] pair.

Without an annotation, the type is inferred from the default (``epochs=3`` -> ``int``); an
option whose default is None must be annotated (``n_init: int | None = None``).

Example:
    >>> from typing import Annotated, Literal
    >>> def method(objective, pool, budget, seed, *, restarts: Annotated[int, Range(1, 256)] = 10,
    ...            rule: Literal["pareto", "best"] = "pareto", n_init: int | None = None): ...
    >>> opts = declare_options(method, skip=4, owner="method demo")
    >>> opts["restarts"].describe()
    'int in [1, 256] (default 10)'
    >>> resolve_options(opts, {"restarts": 4}, where="method demo:")
    {'restarts': 4, 'rule': 'pareto', 'n_init': None}
    >>> resolve_options(opts, {"restarts": "two"}, where="method demo:")
    Traceback (most recent call last):
    ...
    bomf.core.errors.BomfError: method demo: restarts must be an int in [1, 256], got 'two' (text); e.g. 10
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from dataclasses import dataclass, fields
from typing import Annotated, Any, Callable, Literal, Union

from .errors import BomfError

__all__ = ["Range", "Increasing", "Option", "declare_options", "declare_fields",
           "resolve_options", "check_unknown"]


@dataclass(frozen=True)
class Range:
    """Bounds of a number (or of each element of a tuple): ``low <= v <= high``.

    ``low_open=True`` excludes ``low`` (a learning rate must be > 0), ``high_open=True``
    excludes ``high`` (a fraction below 1). None = unbounded.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, v: float) -> bool:
        if self.low is not None and (v <= self.low if self.low_open else v < self.low):
            return False
        return self.high is None or (v < self.high if self.high_open else v <= self.high)

    def text(self) -> str:
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{_num(self.low)}, {_num(self.high)}"
                    f"{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {_num(self.low)}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {_num(self.high)}"
        return ""


@dataclass(frozen=True)
class Increasing:
    """A [low, high] pair (a search interval): the first element must be below the second."""


def _article(text: str) -> str:
    if text.startswith("one of"):
        return text
    return ("an " if text[0] in "aeiou" else "a ") + text


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"


_SCALARS = (int, float, str, bool)


@dataclass(frozen=True)
class Option:
    """One declared option: its type (``kind``), default and constraints."""

    name: str
    kind: type  # int, float, str, bool, or tuple
    default: Any
    nullable: bool = False
    choices: tuple | None = None
    range: Range | None = None
    item: type | None = None  # element type of a tuple option
    length: int | None = None  # fixed length of a tuple option (None: any, at least 1)
    increasing: bool = False

    # -- describing -------------------------------------------------------------------
    def type_text(self) -> str:
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind is tuple:
            n = f"{self.length} " if self.length else ""
            what = f"[low, high] pair of {self.item.__name__}s" if self.increasing else f"list of {n}{self.item.__name__}s"
            text = what + (f", each {self.range.text()}" if self.range and self.range.text() else "")
        else:
            text = self.kind.__name__
            if self.range and self.range.text():
                text += f" {self.range.text()}"
        return text + (" or None" if self.nullable else "")

    def describe(self) -> str:
        """``int in [1, 256] (default 10)``: for listings and help."""
        return f"{self.type_text()} (default {self.default_text()})"

    def default_text(self) -> str:
        d = self.default
        if isinstance(d, tuple):
            return "[" + ", ".join(_num(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else repr(v)
                                   for v in d) + "]"
        return repr(d) if isinstance(d, str) else str(d)

    def _example(self) -> str:
        if self.default is not None:
            return self.default_text()
        if self.choices:
            return repr(self.choices[0])
        if self.range is not None and self.range.low is not None:
            return _num(self.range.low + (1 if self.range.low_open and self.kind is int else 0))
        return {int: "1", float: "0.5", str: "'text'", bool: "true"}.get(self.kind, "...")

    # -- checking ---------------------------------------------------------------------
    def check(self, value: Any, where: str = "") -> Any:
        """The value, normalised (ints as floats for float options, lists as tuples), or a
        ``BomfError`` whose one line names the option, what it must be, and an example."""
        if value is None:
            if self.nullable:
                return None
            raise self._error(value, where)
        if self.choices is not None:
            if any(value == c and type(value) is type(c) for c in self.choices):
                return value
            raise self._error(value, where)
        if self.kind is tuple:
            if not isinstance(value, (list, tuple)) or not value or (self.length and len(value) != self.length):
                raise self._error(value, where)
            out = tuple(self._scalar(v, self.item) for v in value)
            if any(v is _BAD for v in out) or (self.range and not all(self.range.contains(v) for v in out)):
                raise self._error(value, where)
            if self.increasing and not all(a < b for a, b in zip(out, out[1:])):
                raise self._error(value, where)
            return out
        out = self._scalar(value, self.kind)
        if out is _BAD or (self.range is not None and not self.range.contains(out)):
            raise self._error(value, where)
        return out

    @staticmethod
    def _scalar(value: Any, kind: type) -> Any:
        if kind is bool:
            return value if isinstance(value, bool) else _BAD
        if kind is int:
            return value if isinstance(value, int) and not isinstance(value, bool) else _BAD
        if kind is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                return float(value)
            return _BAD
        if kind is str:
            return value if isinstance(value, str) else _BAD
        return _BAD

    def _error(self, value: Any, where: str) -> BomfError:
        got = repr(value)
        fix = f"e.g. {self._example()}"
        if isinstance(value, str) and self.choices is None and self.kind in (int, float, bool, tuple):
            got += " (text)"
            if self.kind is not tuple and self._scalar(_unquote(value), self.kind) is not _BAD:
                fix = f"write {value} without quotes"
        prefix = f"{where} " if where else ""
        return BomfError(f"{prefix}{self.name} must be {_article(self.type_text())}, got {got}; {fix}")


def _unquote(text: str) -> Any:
    """What a quoted number or boolean meant (``"16"`` -> 16), to suggest dropping the quotes."""
    import json

    try:
        return json.loads(text.strip().lower())
    except ValueError:
        return _BAD


class _Bad:
    def __repr__(self) -> str:
        return "<invalid>"


_BAD = _Bad()


def _parse(name: str, annotation: Any, default: Any, owner: str) -> Option:
    """An ``Option`` from an annotation (or, with none, from the default's type)."""
    meta: list = []
    if typing.get_origin(annotation) is Annotated:
        annotation, *meta = typing.get_args(annotation)
    rng = next((m for m in meta if isinstance(m, Range)), None)
    increasing = any(isinstance(m, Increasing) or m is Increasing for m in meta)
    nullable = False
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            raise _refuse(name, annotation, owner)
        annotation = args[0]
        origin = typing.get_origin(annotation)
        if origin is Annotated:  # Annotated[int, Range(...)] | None
            annotation, *inner = typing.get_args(annotation)
            rng = rng or next((m for m in inner if isinstance(m, Range)), None)
            increasing = increasing or any(isinstance(m, Increasing) or m is Increasing for m in inner)
            origin = typing.get_origin(annotation)
    if origin is Literal:
        choices = typing.get_args(annotation)
        return Option(name=name, kind=type(choices[0]), default=default, nullable=nullable, choices=choices)
    if origin is tuple:
        args = typing.get_args(annotation)
        variable = len(args) == 2 and args[1] is Ellipsis
        items = {args[0]} if variable else set(args)
        if len(items) != 1 or next(iter(items)) not in (int, float, str):
            raise _refuse(name, annotation, owner)
        return Option(name=name, kind=tuple, default=default, nullable=nullable, range=rng, item=next(iter(items)),
                      length=None if variable else len(args), increasing=increasing)
    if annotation in _SCALARS:
        return Option(name=name, kind=annotation, default=default, nullable=nullable, range=rng)
    raise _refuse(name, annotation, owner)


def _refuse(name: str, annotation: Any, owner: str) -> BomfError:
    return BomfError(f"{owner}: option {name} is annotated {annotation!r}, which bomf cannot check; use int, float, "
                     "str, bool, Literal[...], tuple[...], X | None, or Annotated[X, Range(low, high)]")


def _infer(name: str, default: Any, owner: str) -> Option:
    if isinstance(default, _SCALARS):
        return Option(name=name, kind=type(default), default=default)
    if isinstance(default, (tuple, list)) and default and len({type(v) for v in default}) == 1 \
            and isinstance(default[0], (int, float, str)) and not isinstance(default[0], bool):
        return Option(name=name, kind=tuple, default=tuple(default), item=type(default[0]))
    raise BomfError(f"{owner}: option {name} has no annotation and its default {default!r} does not say its type; "
                    f"annotate it, e.g. `{name}: int | None = None`")


def _declare(name: str, annotation: Any, default: Any, owner: str) -> Option:
    if annotation is inspect.Parameter.empty:
        option = _infer(name, default, owner)
    else:
        option = _parse(name, annotation, default, owner)
    try:  # the default must pass its own declaration: catches a wrong annotation at once
        normalised = option.check(default, where=f"{owner}: the default of")
    except BomfError as exc:
        raise BomfError(f"{exc} (fix the declaration)") from None
    return Option(**{**option.__dict__, "default": normalised})


def declare_options(fn: Callable, skip: int, owner: str) -> dict[str, Option]:
    """The options of ``fn``: its parameters after the first ``skip`` (keyword-only or with defaults)."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # a name in an annotation that the module does not define
        raise BomfError(f"{owner}: its option annotations cannot be read ({exc}); import the names they use") from exc
    out = {}
    for p in list(inspect.signature(fn).parameters.values())[skip:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is inspect.Parameter.empty:
            raise BomfError(f"{owner}: option {p.name} has no default; give it one (options are optional)")
        out[p.name] = _declare(p.name, hints.get(p.name, inspect.Parameter.empty), p.default, owner)
    return out


def declare_fields(cls: type, owner: str) -> dict[str, Option]:
    """The fields of a dataclass as options (``TrainConfig``)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: _declare(f.name, hints[f.name], f.default, owner) for f in fields(cls)}


def check_unknown(declared: dict[str, Option], given: dict, what: str) -> None:
    """One line naming the first unknown option and the known ones."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise BomfError(f"{what} has no option {unknown[0]!r}; its options: {known}")


def resolve_options(declared: dict[str, Option], given: dict, where: str, what: str | None = None) -> dict:
    """Every option's effective value (defaults filled in, values checked and normalised), in
    declaration order. ``what`` names the owner in the unknown-option message."""
    check_unknown(declared, given, what or where.rstrip(":"))
    return {name: opt.check(given[name], where) if name in given else opt.default for name, opt in declared.items()}
