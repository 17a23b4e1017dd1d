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

import re
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
from ..tasks.base import LIMIT_OPTIONS
from ..training.request import TRAIN_OPTIONS, TrainConfig, TrajectoryRequest

# The built-in suites: packaged as bomf/suites in a wheel (setup.py), benchmarks/suites in a clone.
SUITES_DIR = next((d for d in (Path(__file__).resolve().parents[1] / "suites", REPO_ROOT / "benchmarks" / "suites")
                   if d.is_dir()), REPO_ROOT / "benchmarks" / "suites")
TOP_KEYS = {"name", "description", "seeds", "budget", "methods", "stage1", "stage1_options", "train", "tasks", "variants",
            "method_options", "references", "plugins"}
VARIANT_KEYS = {"method", "options", "budget"}
TASK_KEYS = {"name", "models", "limits", "train", "regime", "methods"}
REGIME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
TRAIN_KEYS = {f.name for f in fields(TrainConfig)}


@dataclass(frozen=True)
class Variant:
    label: str
    method: str
    options: tuple[tuple[str, object], ...] = ()
    budget: int | None = None  # this variant's budget (a budget curve); None = the suite's


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
    regime: str = ""  # a named fine-tuning regime of the task (its own limits / training config)

    @property
    def task_label(self) -> str:
        return f"{self.task}@{self.regime}" if self.regime else self.task

    def group(self) -> tuple:
        """Cells of one group share one trajectory (one stage-1 choice and one fine-tuning)."""
        return (self.task_label, self.model, self.seed, self.stage1)

    def relpath(self) -> str:
        return f"{self.suite}/{self.task_label}/{self.model}/{self.stage1}/{self.label}/seed{self.seed}.json"

    def fusion_request(self, config: TrainConfig, device: str = "auto") -> FusionRequest:
        traj = TrajectoryRequest(task=self.task, model=self.model, seed=self.seed, config=config, limits=self.limits,
                                 device=device)
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
    references: list[str] = field(default_factory=list)  # the tables' named references (else chosen by val)
    plugins: tuple = ()  # bomf.core.plugins.Plugin, loaded by load_suite and by every worker

    def cells(self) -> list[Cell]:
        out = []
        for t in self.tasks:
            for model in t["models"]:
                for seed in self.seeds:
                    for s1 in self.stage1:
                        for v in self.variants:
                            if t.get("methods") is not None and v.label not in t["methods"]:
                                continue  # this task entry runs a subset of the suite's methods
                            opts = tuple(sorted(self.stage1_options.get(s1, {}).items()))
                            out.append(Cell(suite=self.name, task=t["name"], model=model, seed=seed, stage1=s1,
                                            stage1_options=opts, label=v.label, method=v.method, options=v.options,
                                            budget=v.budget if v.budget is not None else self.budget,
                                            train=t["config"], limits=t["limits"], regime=t["regime"]))
        return out


def _fail(path, msg: str) -> BomfError:
    return BomfError(f"suite {path}: {msg}")


# A name becomes a folder of <results>/<suite>/runs/<task>/<model>/<stage1>/<method>/: one
# component each, never "..", never a separator, so every path stays inside the results folder.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")


def check_path_name(name: object, what: str) -> str:
    """``name`` if it can be one folder name of a results path, else a one-line ``BomfError``."""
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        raise BomfError(f"{what} {name!r} cannot name a results folder; use letters, digits and . _ + - "
                        "(starting with a letter or digit, at most 100 characters)")
    return name


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


def _table(path, raw: dict, key: str, where: str) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise _fail(path, f"{where} must be a table ({key} = {{ ... }} or a [{key}] section), got {value!r}")
    return value


def _names(path, value, key: str, what: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _fail(path, f"{key} must be a non-empty list of {what} names (strings), got {value!r}")
    if len(set(value)) != len(value):
        raise _fail(path, f"{key} lists a name twice")
    return value


def _train_table(path, table: dict, where: str) -> dict:
    """A [train] table checked field by field against ``TrainConfig``'s declarations."""
    unknown = sorted(set(table) - TRAIN_KEYS)
    if unknown:
        raise _fail(path, f"{where} has no field {unknown[0]!r}; fields: {', '.join(sorted(TRAIN_KEYS))}")
    try:
        return {k: TRAIN_OPTIONS[k].check(v, where=f"{where}") for k, v in table.items()}
    except BomfError as exc:
        raise _fail(path, str(exc)) from None


def _limits(path, task, table, where: str) -> SplitLimits:
    if not isinstance(table, dict):
        raise _fail(path, f"{where} must be a table like {{ train = 1000, val = 200 }}, got {table!r}")
    bad = sorted(set(table) - {"train", "val", "test"})
    if bad:
        raise _fail(path, f"{where} has unknown split {bad[0]!r}; use train, val, test")
    d = task.default_limits
    try:
        values = {k: LIMIT_OPTIONS[k].check(table[k], where=where) if k in table else getattr(d, k)
                  for k in ("train", "val", "test")}
    except BomfError as exc:
        raise _fail(path, str(exc)) from None
    return SplitLimits(**values)


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
    """Parse and validate a suite before any compute: every name must exist, every key and
    option be known, every value have its declared type and range, and every name that becomes
    a folder stay one folder inside the results folder. Errors are one line naming the key."""
    path = resolve_suite_path(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, f"is not valid TOML ({exc}); fix the syntax") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot be read ({getattr(exc, 'strerror', None) or exc}); check the file") from exc
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise _fail(path, f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(TOP_KEYS))}")
    for key in ("name", "seeds", "methods", "tasks"):
        if key not in raw:
            raise _fail(path, f"missing required key {key!r}")
    try:
        name = check_path_name(raw["name"], "name")
    except BomfError as exc:
        raise _fail(path, str(exc)) from None
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise _fail(path, f"description must be text, got {description!r}")
    plugins = _load_plugins(path, raw.get("plugins", []))
    seeds = raw["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                           for s in seeds):
        raise _fail(path, "seeds must be a non-empty list of non-negative integers")
    if len(set(seeds)) != len(seeds):
        raise _fail(path, "seeds has duplicates")
    budget = raw.get("budget")
    if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget < 1):
        raise _fail(path, f"budget must be a positive integer, got {budget!r}")

    stage1 = _names(path, raw.get("stage1", ["default"]), "stage1", "stage-1 strategy")
    stage1_options_raw = _table(path, raw, "stage1_options", "stage1_options")
    for s in stage1_options_raw:
        if s not in stage1:
            raise _fail(path, f"stage1_options names {s!r}, which is not in stage1 = {stage1}")
    stage1_options = {}
    try:
        for s in stage1:
            check_path_name(s, "stage-1 strategy")
            given = _table(path, stage1_options_raw, s, f"[stage1_options.{s}]")
            resolved = get_stage1(s).resolve_options(given, where=f"[stage1_options.{s}]",)
            stage1_options[s] = {k: resolved[k] for k in given}
    except BomfError as exc:
        raise _fail(path, str(exc)) from None

    declared = _table(path, raw, "variants", "variants")
    method_options = _table(path, raw, "method_options", "method_options")
    labels = _names(path, raw["methods"], "methods", "method or variant")
    for label in method_options:
        if label not in labels or label in declared:
            raise _fail(path, f"[method_options.{label}] names {label!r}, which is not a method in methods; "
                              "add it to methods or remove the section")
    variants = []
    for label in labels:
        try:
            check_path_name(label, "method")
            v_budget = None
            if label in declared:
                spec = _table(path, declared, label, f"[variants.{label}]")
                extra = sorted(set(spec) - VARIANT_KEYS)
                if extra:
                    raise BomfError(f"[variants.{label}] has unknown key {extra[0]!r}; a variant has "
                                    f"{', '.join(sorted(VARIANT_KEYS))}")
                if "method" not in spec:
                    raise BomfError(f"variant {label!r} needs a 'method'")
                method = spec["method"]
                v_budget = spec.get("budget")
                if v_budget is not None and (not isinstance(v_budget, int) or isinstance(v_budget, bool) or v_budget < 1):
                    raise BomfError(f"[variants.{label}] budget must be a positive integer, got {v_budget!r}")
                given = _table(path, spec, "options", f"[variants.{label}] options")
                where = f"[variants.{label}] options:"
            else:
                method = label
                given = _table(path, method_options, label, f"[method_options.{label}]")
                where = f"[method_options.{label}]"
            if not isinstance(method, str):
                raise BomfError(f"[variants.{label}] method must be a method name, got {method!r}")
            resolved = get_method(method).resolve_options(given, where=where)
        except BomfError as exc:
            raise _fail(path, str(exc)) from None
        options = tuple(sorted((k, resolved[k]) for k in given))
        variants.append(Variant(label=label, method=method, options=options, budget=v_budget))
    references = raw.get("references", [])
    if not isinstance(references, list) or any(r not in labels for r in references):
        raise _fail(path, f"references must list methods of the suite ({', '.join(labels)}), got {references!r}")

    base_train = _train_table(path, _table(path, raw, "train", "[train]"), "[train]")
    tasks, seen_tasks = [], set()
    task_entries = raw["tasks"]
    if not isinstance(task_entries, list) or not task_entries or not all(isinstance(t, dict) for t in task_entries):
        raise _fail(path, "tasks must be a non-empty list of [[tasks]] tables")
    for t in task_entries:
        unknown = sorted(set(t) - TASK_KEYS)
        if unknown:
            raise _fail(path, f"a [[tasks]] entry has unknown key {unknown[0]!r}; allowed: {', '.join(sorted(TASK_KEYS))}")
        if "name" not in t or not t.get("models"):
            raise _fail(path, "every [[tasks]] entry needs a name and a non-empty models list")
        try:
            task = get_task(check_path_name(t["name"], "task"))
            models = _names(path, t["models"], f"models of task {t['name']}", "model")
            for model in models:
                check_path_name(model, "model")
        except BomfError as exc:
            raise _fail(path, str(exc)) from None
        regime = t.get("regime", "")
        if not isinstance(regime, str) or not set(regime) <= REGIME_CHARS or regime.startswith("."):
            raise _fail(path, f"regime of {t['name']} must be letters, digits, '_', '-' or '.', got {regime!r}")
        if (t["name"], regime) in seen_tasks:
            raise _fail(path, f"task {t['name']} is listed twice" + (f" with regime {regime!r}" if regime else "")
                        + "; give each entry its own regime = \"...\"")
        seen_tasks.add((t["name"], regime))
        subset = t.get("methods")
        if subset is not None and (not isinstance(subset, list) or not subset or any(m not in labels for m in subset)):
            raise _fail(path, f"methods of {t['name']} must be a non-empty list of the suite's methods, got {subset!r}")
        for model in models:
            spec = get_model(model)
            if task.is_generation != spec.is_generator:
                need = "a decoder (e.g. smollm2-135m)" if task.is_generation else "an encoder (e.g. minilm)"
                raise _fail(path, f"task {t['name']} ({task.kind}) cannot use model {model} ({spec.arch}); "
                                  f"give it {need}")
        limits = _limits(path, task, t["limits"], f"limits of {t['name']}") if "limits" in t else None
        if "train" in t and not isinstance(t["train"], dict):
            raise _fail(path, f"train of task {t['name']} must be a table like {{ lr = 1e-4 }}, got {t['train']!r}")
        table = _train_table(path, t.get("train", {}), f"train of task {t['name']}")
        try:
            config = TrainConfig(**{**base_train, **table})
        except BomfError as exc:
            raise _fail(path, f"training config of {t['name']}: {exc}") from exc
        tasks.append({"name": t["name"], "models": list(models), "limits": limits, "config": config,
                      "regime": regime, "methods": subset})
    return Suite(name=name, description=description, path=path, seeds=list(seeds), budget=budget,
                 stage1=list(stage1), variants=variants, tasks=tasks, stage1_options=stage1_options,
                 references=list(references), plugins=plugins)
