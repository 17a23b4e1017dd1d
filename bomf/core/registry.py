"""A tiny name -> object registry with auto-discovery of the modules of a package.

Adding a task, model or method is one new module that calls ``register``; nothing in
the core is edited, because ``discover`` imports every module of the package.

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


class Registry(Generic[T]):
    def __init__(self, kind: str, packages: tuple[str, ...] = ()):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._packages = packages
        self._discovered = False

    def register(self, name: str, item: T) -> T:
        if name in self._items and self._items[name] is not item:
            raise BomfError(f"{self.kind} '{name}' is registered twice; rename one of them")
        self._items[name] = item
        return item

    def discover(self) -> None:
        """Import every module of the registry's packages (each registers itself)."""
        if self._discovered:
            return
        self._discovered = True
        for package_name in self._packages:
            package = importlib.import_module(package_name)
            for info in pkgutil.iter_modules(package.__path__):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{package_name}.{info.name}")

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
