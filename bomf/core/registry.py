"""A tiny name -> object registry with auto-discovery of the modules of a package.

Adding a task, model or method is one new module that calls ``register``; nothing in
the core is edited, because ``discover`` imports every module of the registry's packages and
then every module that installed distributions declare in its entry-point group (``bomf.tasks``,
``bomf.models``, ``bomf.methods``; see ``bomf.core.plugins``). A package may be given as a
tuple of alternatives, the first importable one is used: the baselines are ``bomf.baselines``
once installed and the repository's top-level ``baselines`` folder otherwise.

Example:
    >>> colours = Registry("colour")
    >>> _ = colours.register("red", 0xFF0000)
    >>> colours.get("red")
    16711680
    >>> colours.get("blue")
    Traceback (most recent call last):
    ...
    bomf.core.errors.BomfError: unknown colour 'blue'; known: red
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Generic, Iterator, TypeVar

from .errors import BomfError

T = TypeVar("T")


def _first_importable(names: tuple[str, ...]):
    """(name, module) of the first of ``names`` that imports; the last one's error otherwise."""
    for i, name in enumerate(names):
        try:
            return name, importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if i == len(names) - 1 or exc.name != name:
                raise  # the last choice, or a module inside the package is missing: a real error
    raise ValueError("no package given")


class Registry(Generic[T]):
    def __init__(self, kind: str, packages: tuple[str | tuple[str, ...], ...] = (), entry_point_group: str | None = None):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._packages = packages
        self.entry_point_group = entry_point_group
        self._discovered = False

    def register(self, name: str, item: T) -> T:
        if name in self._items and self._items[name] is not item:
            raise BomfError(f"{self.kind} '{name}' is registered twice; rename one of them")
        self._items[name] = item
        return item

    def discover(self) -> None:
        """Import every module of the registry's packages and entry points (each registers itself)."""
        if self._discovered:
            return
        for choices in self._packages:
            package_name, package = _first_importable((choices,) if isinstance(choices, str) else choices)
            for info in pkgutil.iter_modules(package.__path__):
                if not info.name.startswith("_"):
                    module = f"{package_name}.{info.name}"
                    try:
                        importlib.import_module(module)
                    except Exception as exc:
                        # Why not carry on: the registry would then answer "unknown method" for
                        # every name this module registers, on every later call, hiding the cause.
                        raise BomfError(f"cannot load {self.kind} module {module}: {type(exc).__name__}: {exc}; "
                                        f"fix that module (or remove it) and run again") from exc
        if self.entry_point_group:
            from .plugins import load_entry_points

            load_entry_points(self.entry_point_group)
        # Set only once every module is in: a failed discovery is retried (and fails the same way).
        self._discovered = True

    def get(self, name: str) -> T:
        self.discover()
        if name not in self._items:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise BomfError(f"unknown {self.kind} '{name}'; known: {known}")
        return self._items[name]

    def names(self) -> list[str]:
        self.discover()
        return sorted(self._items)

    def __iter__(self) -> Iterator[tuple[str, T]]:
        self.discover()
        return iter(sorted(self._items.items()))

    def __contains__(self, name: str) -> bool:
        self.discover()
        return name in self._items
