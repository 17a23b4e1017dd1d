"""Suites: TOML files that say which cells to run; validated before any compute.

A suite crosses tasks x models x seeds x stage-1 strategies x fusion methods at one budget.
A method entry is a registered method name or a *variant*: a label for a method with options
(``[variants.bomf_primary] method = "bomf"`` + ``options = {objectives = "primary"}``).
See ``benchmarks/suites/offline.toml`` for a commented example. ``plugins = ["my_pkg.tasks",
"my_method.py"]`` names modules or files (relative to the suite) that register tasks, models or
methods; they are imported before the suite's names are checked (``bomf.core.plugins``).

Example:
    >>> suite = load_suite("smoke")
    >>> suite.name, len(suite.cells()) > 0
    ('smoke', True)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..core.errors import BomfError
from ..fusion import get_method
from ..models import get_model
from ..core import plugins as plugin_loader
from ..core.paths import REPO_ROOT
from ..fusion.pipeline import FusionRequest
from ..stage1.strategies import get_stage1
from ..tasks import SplitLimits, get_task
from ..training.request import TrainConfig, TrajectoryRequest

# The built-in suites: packaged as bomf/suites in a wheel (setup.py), benchmarks/suites in a clone.
SUITES_DIR = next((d for d in (Path(__file__).resolve().parents[1] / "suites", REPO_ROOT / "benchmarks" / "suites")
                   if d.is_dir()), REPO_ROOT / "benchmarks" / "suites")
TOP_KEYS = {"name", "description", "seeds", "budget", "methods", "stage1", "stage1_options", "train", "tasks", "variants",
            "method_options", "plugins"}
TASK_KEYS = {"name", "models", "limits", "train"}
TRAIN_KEYS = {f.name for f in fields(TrainConfig)}


@dataclass(frozen=True)
class Variant:
    label: str
    method: str
    options: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Cell:
    """One record: a fusion of one trajectory by one method (variant)."""

    suite: str
    task: str
    model: str
    seed: int
    stage1: str
    stage1_options: tuple[tuple[str, object], ...]
    label: str  # the method's name in tables (a method or a variant)
    method: str
    options: tuple[tuple[str, object], ...]
    budget: int | None
    train: TrainConfig
    limits: SplitLimits | None

    def group(self) -> tuple:
        """Cells of one group share one trajectory (one stage-1 choice and one fine-tuning)."""
        return (self.task, self.model, self.seed, self.stage1)

    def relpath(self) -> str:
        return f"{self.suite}/{self.task}/{self.model}/{self.stage1}/{self.label}/seed{self.seed}.json"

    def fusion_request(self, config: TrainConfig) -> FusionRequest:
        traj = TrajectoryRequest(task=self.task, model=self.model, seed=self.seed, config=config, limits=self.limits)
        return FusionRequest(trajectory=traj, method=self.method, budget=self.budget, options=self.options)


@dataclass
class Suite:
    name: str
    description: str
    path: Path
    seeds: list[int]
    budget: int | None
    stage1: list[str]
    variants: list[Variant]
    stage1_options: dict = field(default_factory=dict)
    tasks: list[dict] = field(default_factory=list)
    plugins: tuple = ()  # bomf.core.plugins.Plugin, loaded by load_suite and by every worker

    def cells(self) -> list[Cell]:
        out = []
        for t in self.tasks:
            for model in t["models"]:
                for seed in self.seeds:
                    for s1 in self.stage1:
                        for v in self.variants:
                            opts = tuple(sorted((k, _freeze(v)) for k, v in self.stage1_options.get(s1, {}).items()))
                            out.append(Cell(suite=self.name, task=t["name"], model=model, seed=seed, stage1=s1,
                                            stage1_options=opts, label=v.label, method=v.method, options=v.options, budget=self.budget,
                                            train=t["config"], limits=t["limits"]))
        return out


def _freeze(value):
    """TOML lists -> tuples, so options are hashable and compare equal to their defaults."""
    return tuple(value) if isinstance(value, list) else value


def _fail(path, msg: str) -> BomfError:
    return BomfError(f"suite {path}: {msg}")


def resolve_suite_path(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise BomfError(f"suite file {p} does not exist")
        return p
    candidate = SUITES_DIR / f"{name_or_path}.toml"
    if not candidate.exists():
        known = ", ".join(sorted(x.stem for x in SUITES_DIR.glob("*.toml")))
        raise BomfError(f"unknown suite '{name_or_path}'; known: {known} (or give a path to a .toml file)")
    return candidate


def _train_config(path, table: dict, base: dict) -> dict:
    unknown = sorted(set(table) - TRAIN_KEYS)
    if unknown:
        raise _fail(path, f"[train] has no field {unknown[0]!r}; fields: {', '.join(sorted(TRAIN_KEYS))}")
    return {**base, **table}


def _load_plugins(path: Path, specs) -> tuple:
    """The suite's ``plugins``: module names or .py files (relative to the suite), imported now."""
    if not isinstance(specs, list) or not all(isinstance(x, str) and x.strip() for x in specs):
        raise _fail(path, "plugins must be a list of module names or .py paths, e.g. plugins = [\"my_tasks.py\"]")
    try:
        resolved = tuple(plugin_loader.resolve(x, base=path.parent) for x in specs)
        plugin_loader.load(resolved)
    except BomfError as exc:
        raise _fail(path, str(exc)) from exc
    return resolved


def load_suite(name_or_path: str) -> Suite:
    """Parse and validate a suite: every name must exist and every option must be known."""
    path = resolve_suite_path(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, f"is not valid TOML ({exc}); fix the syntax") from exc
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise _fail(path, f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(TOP_KEYS))}")
    for key in ("name", "seeds", "methods", "tasks"):
        if key not in raw:
            raise _fail(path, f"missing required key {key!r}")
    plugins = _load_plugins(path, raw.get("plugins", []))
    seeds = raw["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise _fail(path, "seeds must be a non-empty list of non-negative integers")
    if len(set(seeds)) != len(seeds):
        raise _fail(path, "seeds has duplicates")
    budget = raw.get("budget")
    if budget is not None and (not isinstance(budget, int) or budget < 1):
        raise _fail(path, f"budget must be a positive integer, got {budget!r}")
    stage1 = raw.get("stage1", ["default"])
    stage1_options = raw.get("stage1_options", {})
    for s in stage1:
        get_stage1(s).check_options(stage1_options.get(s, {}))
    for s in stage1_options:
        if s not in stage1:
            raise _fail(path, f"stage1_options names {s!r}, which is not in stage1 = {stage1}")

    declared = raw.get("variants", {})
    method_options = raw.get("method_options", {})
    variants = []
    labels = raw["methods"]
    if not isinstance(labels, list) or not labels:
        raise _fail(path, "methods must be a non-empty list")
    if len(set(labels)) != len(labels):
        raise _fail(path, "methods lists a name twice")
    for label in labels:
        if label in declared:
            spec = declared[label]
            if "method" not in spec:
                raise _fail(path, f"variant {label!r} needs a 'method'")
            method, options = spec["method"], dict(spec.get("options", {}))
        else:
            method, options = label, dict(method_options.get(label, {}))
        m = get_method(method)
        m.check_options(options)
        variants.append(Variant(label=label, method=method, options=tuple(sorted(options.items()))))

    base_train = _train_config(path, raw.get("train", {}), {})
    tasks = []
    for t in raw["tasks"]:
        unknown = sorted(set(t) - TASK_KEYS)
        if unknown:
            raise _fail(path, f"a [[tasks]] entry has unknown key {unknown[0]!r}; allowed: {', '.join(sorted(TASK_KEYS))}")
        if "name" not in t or not t.get("models"):
            raise _fail(path, "every [[tasks]] entry needs a name and a non-empty models list")
        task = get_task(t["name"])
        for model in t["models"]:
            spec = get_model(model)
            if task.is_generation != spec.is_generator:
                need = "a decoder (e.g. smollm2-135m)" if task.is_generation else "an encoder (e.g. minilm)"
                raise _fail(path, f"task {t['name']} ({task.kind}) cannot use model {model} ({spec.arch}); "
                                  f"give it {need}")
        limits = None
        if "limits" in t:
            bad = sorted(set(t["limits"]) - {"train", "val", "test"})
            if bad:
                raise _fail(path, f"limits of {t['name']} has unknown split {bad[0]!r}; use train, val, test")
            d = task.default_limits
            limits = SplitLimits(**{k: t["limits"].get(k, getattr(d, k)) for k in ("train", "val", "test")})
        try:
            config = TrainConfig(**_train_config(path, t.get("train", {}), base_train))
        except BomfError as exc:
            raise _fail(path, f"training config of {t['name']}: {exc}") from exc
        tasks.append({"name": t["name"], "models": list(t["models"]), "limits": limits, "config": config})
    return Suite(name=raw["name"], description=raw.get("description", ""), path=path, seeds=list(seeds), budget=budget,
                 stage1=list(stage1), variants=variants, tasks=tasks, stage1_options=stage1_options, plugins=plugins)
