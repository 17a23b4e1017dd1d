"""Options declared once: what a declaration accepts, refuses, and how it is refused."""

from typing import Annotated, Literal

import pytest

from bomf.core.errors import BomfError
from bomf.core.options import Increasing, Range, declare_options, resolve_options


def _declare(fn):
    return declare_options(fn, skip=0, owner="method demo")


def test_types_ranges_choices_and_none():
    def fn(*, k: Annotated[int, Range(1, 8)] = 2, rate: Annotated[float, Range(0, 1, low_open=True)] = 0.5,
           rule: Literal["a", "b"] = "a", n: Annotated[int, Range(1)] | None = None, flag: bool = False,
           box: Annotated[tuple[float, float], Range(0, 1), Increasing()] = (0.1, 0.9), sizes: tuple[int, ...] = (8,)):
        ...

    opts = _declare(fn)
    ok = resolve_options(opts, {"k": 8, "rate": 1, "rule": "b", "n": 3, "flag": True, "box": [0, 1], "sizes": [4, 16]},
                         where="demo:")
    assert ok == {"k": 8, "rate": 1.0, "rule": "b", "n": 3, "flag": True, "box": (0.0, 1.0), "sizes": (4, 16)}
    assert isinstance(ok["rate"], float)  # 1 and 1.0 are one value (one cache key)
    assert resolve_options(opts, {}, where="demo:")["n"] is None
    bad = {"k": [0, 9, 2.0, "2", True], "rate": [0, -1, "0.5", float("nan"), float("inf")], "rule": ["c", 1],
           "n": [0, 1.5], "flag": ["true", 1], "box": [[0.9, 0.1], [0.5], [0, 2], "0,1"], "sizes": [[], [4, "8"]]}
    for name, values in bad.items():
        for value in values:
            with pytest.raises(BomfError) as err:
                resolve_options(opts, {name: value}, where="demo:")
            message = str(err.value)
            assert message.startswith(f"demo: {name} must be ") and "\n" not in message, message
            assert "e.g." in message or "without quotes" in message


def test_messages_name_the_option_and_the_fix():
    def fn(*, restarts: Annotated[int, Range(1, 256)] = 10, rule: Literal["x", "y"] = "x"):
        ...

    opts = _declare(fn)
    with pytest.raises(BomfError, match=r"^m: restarts must be an int in \[1, 256\], got '16' \(text\); write 16 without quotes$"):
        resolve_options(opts, {"restarts": "16"}, where="m:")
    with pytest.raises(BomfError, match=r"^m: rule must be one of 'x', 'y', got 'banana'; e.g. 'x'$"):
        resolve_options(opts, {"rule": "banana"}, where="m:")
    with pytest.raises(BomfError, match=r"^method demo has no option 'bogus'; its options: restarts, rule$"):
        resolve_options(opts, {"bogus": 1}, where="m:", what="method demo")


def test_an_unannotated_option_takes_the_type_of_its_default():
    def fn(*, epochs=3, lr=0.05, name="x", grid=(1e-5, 1e-4)):
        ...

    opts = _declare(fn)
    assert [opts[n].describe() for n in opts] == ["int (default 3)", "float (default 0.05)", "str (default 'x')",
                                                   "list of floats (default [1e-05, 0.0001])"]
    with pytest.raises(BomfError, match="epochs must be an int, got 2.5"):
        resolve_options(opts, {"epochs": 2.5}, where="demo:")


def _none_default(*, n_init=None): ...
def _unknown_annotation(*, x: dict = None): ...
def _default_out_of_range(*, k: Annotated[int, Range(1, 8)] = 0): ...
def _no_default(*, k: int): ...


@pytest.mark.parametrize("fn, message", [
    (_none_default, r"option n_init has no annotation and its default None does not say its type; "
                    r"annotate it, e.g. `n_init: int \| None = None`"),
    (_unknown_annotation, "option x is annotated .*which bomf cannot check"),
    (_default_out_of_range, r"the default of k must be an int in \[1, 8\], got 0.*fix the declaration"),
    (_no_default, "option k has no default"),
])
def test_a_declaration_that_cannot_be_checked_is_refused_at_registration(fn, message):
    with pytest.raises(BomfError, match=message) as err:
        _declare(fn)
    assert "\n" not in str(err.value) and str(err.value).startswith("method demo")


def test_a_positional_option_is_refused_by_the_method_registry():
    from bomf.fusion.methods import register_method

    with pytest.raises(BomfError, match="option scale must be keyword-only; put `\\*,` before it"):
        @register_method("positional_option_demo")
        def demo(objective, pool, budget, seed, scale=1.0):
            ...
