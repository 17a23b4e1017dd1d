"""Plugins: tasks, models and methods from outside the package, with no edit of it.

A plugin is a Python module that registers things when it is imported (``register_task``,
``register_model``, ``register_method``). bomf finds plugins three ways, in every command and
in every executor's workers:

- **entry points** of installed distributions, in the groups ``bomf.tasks``, ``bomf.models``
  and ``bomf.methods`` (``ENTRY_POINT_GROUPS``); each registry imports its group's modules the
  first time it is asked for a name (``bomf.core.registry``);
- a suite's ``plugins = ["my_pkg.tasks", "my_method.py"]`` (files relative to the suite file);
- ``--plugin NAME_OR_FILE`` on any ``bomf`` command, or ``$BOMF_PLUGINS`` (several separated by
  ``,``).

A plugin given by name or file is ``resolve``d into a ``Plugin`` (a file keeps its source text,
so a worker on another machine can load it without the file) and ``load``ed once per process;
``loaded()`` lists them, so the harness hands the same plugins to its workers.

Example:
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "shout.py").write_text("WORD = 'hello'.upper()\\n")
    >>> plugin = resolve("shout.py", base=folder)
    >>> plugin.kind, load([plugin])[0].WORD
    ('file', 'HELLO')
    >>> resolve("no_such_plugin_module")
    Traceback (most recent call last):
    ...
    bomf.core.errors.BomfError: plugin 'no_such_plugin_module' is neither a file nor an importable module; give a path to a .py file or the name of an installed module
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import BomfError

ENTRY_POINT_GROUPS = ("bomf.tasks", "bomf.models", "bomf.methods")
ENV_VAR = "BOMF_PLUGINS"

_LOADED: dict[str, "Plugin"] = {}  # module name -> plugin, in load order


@dataclass(frozen=True)
class Plugin:
    """A plugin as a job carries it to a worker."""

    spec: str  # as the user wrote it
    kind: str  # "module" or "file"
    module: str  # the module name it is imported under
    path: str = ""  # files: the absolute path
    source: str = ""  # files: the text, so a worker without the file can load it
    search_path: tuple[str, ...] = ()  # modules: folders to look in beyond sys.path (the suite's, the cwd)


def _looks_like_file(spec: str) -> bool:
    return spec.endswith(".py") or os.sep in spec or "/" in spec


def resolve(spec: str, base: str | os.PathLike | None = None) -> Plugin:
    """A plugin from a module name or a ``.py`` path (relative paths are taken from ``base``)."""
    if not isinstance(spec, str) or not spec.strip():
        raise BomfError(f"a plugin must be a module name or a path to a .py file, got {spec!r}")
    spec = spec.strip()
    base_dir = Path(base) if base is not None else Path.cwd()
    candidate = Path(spec).expanduser()
    if not candidate.is_absolute():
        candidate = base_dir / candidate
    if _looks_like_file(spec) or candidate.is_file():
        if not candidate.is_file():
            raise BomfError(f"plugin file {candidate} does not exist; fix the path")
        path = candidate.resolve()
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
        name = f"bomf_plugin_{''.join(c if c.isalnum() else '_' for c in path.stem)}_{digest}"
        return Plugin(spec=spec, kind="file", module=name, path=str(path), source=path.read_text(encoding="utf-8"))
    folders = tuple(dict.fromkeys(str(p.resolve()) for p in (base_dir, Path.cwd())))
    with _extra_path(folders):
        try:
            found = importlib.util.find_spec(spec)
        except (ImportError, ValueError):  # a missing parent package, or a malformed name
            found = None
    if found is None:
        raise BomfError(f"plugin {spec!r} is neither a file nor an importable module; "
                        "give a path to a .py file or the name of an installed module")
    return Plugin(spec=spec, kind="module", module=spec, search_path=folders)


class _extra_path:
    """Append folders to ``sys.path`` for an import (appended: installed modules win)."""

    def __init__(self, folders: Iterable[str]):
        self.added = [f for f in folders if f not in sys.path]

    def __enter__(self):
        sys.path.extend(self.added)

    def __exit__(self, *exc):
        for f in self.added:
            if f in sys.path:
                sys.path.remove(f)


def _import(plugin: Plugin) -> types.ModuleType:
    if plugin.module in sys.modules:
        return sys.modules[plugin.module]
    if plugin.kind == "module":
        # The folders stay on sys.path: a plugin may import its siblings lazily, later.
        sys.path.extend(f for f in plugin.search_path if f not in sys.path)
        return importlib.import_module(plugin.module)
    module = types.ModuleType(plugin.module)
    module.__file__ = plugin.path
    sys.modules[plugin.module] = module  # before exec: dataclasses and pickling look the module up
    try:
        exec(compile(plugin.source, plugin.path, "exec"), module.__dict__)
    except BaseException:
        del sys.modules[plugin.module]
        raise
    return module


def load(plugins: Iterable[Plugin | str], base: str | os.PathLike | None = None) -> list[types.ModuleType]:
    """Import each plugin once per process (what it registers is then known); return the modules."""
    modules = []
    for plugin in plugins:
        if isinstance(plugin, str):
            plugin = resolve(plugin, base)
        try:
            modules.append(_import(plugin))
        except BomfError:
            raise
        except Exception as exc:
            raise BomfError(f"plugin {plugin.spec!r} failed to load ({type(exc).__name__}: {exc}); "
                            "fix it or leave it out") from exc
        _LOADED.setdefault(plugin.module, plugin)
    return modules


def from_environment() -> list[Plugin]:
    """The plugins named by ``$BOMF_PLUGINS`` (comma-separated), resolved from the cwd."""
    raw = os.environ.get(ENV_VAR, "")
    return [resolve(s) for s in raw.split(",") if s.strip()]


def loaded() -> tuple[Plugin, ...]:
    """Every plugin this process loaded by name or file, in order (workers load the same)."""
    return tuple(_LOADED.values())


def load_entry_points(group: str) -> list[str]:
    """Import every module an installed distribution declares in the entry-point ``group``."""
    from importlib.metadata import entry_points

    names = []
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            ep.load()
        except Exception as exc:
            dist = getattr(getattr(ep, "dist", None), "name", None) or "an installed distribution"
            raise BomfError(f"plugin entry point {ep.name!r} = {ep.value!r} of {dist} (group {group}) failed to load "
                            f"({type(exc).__name__}: {exc}); fix or uninstall {dist}") from exc
        names.append(ep.name)
    return names
