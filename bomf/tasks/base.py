"""What a task is: three labelled splits, metric names, and how to tokenise an example.

A task module builds a ``Task`` and calls ``register_task`` (see ``docs/adding-a-task.md``).
Splits hold raw text and labels; tokenisation happens once per split in ``bomf.tasks.encoding``.

``Task.data_fingerprint(limits)`` hashes the splits as loaded (after limits): texts, labels,
training targets and the task's declared shape. It enters every trajectory's cache key, so a
task whose data changes (a re-labelled file, a task registered from outside the package) is
trained afresh instead of answered from a cache made with other data.

Example:
    >>> s = Split(text_a=["good", "bad"], text_b=None, labels=[1, 0])
    >>> len(s), s.subsample(1, seed=0).labels in ([1], [0])
    (2, True)
    >>> SplitLimits(train=-5)
    Traceback (most recent call last):
    ...
    bomf.core.errors.BomfError: split limits: train must be an int >= 1 or None, got -5; e.g. 1
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field, replace
from typing import Annotated, Callable, Literal, Sequence

from ..core.errors import BomfError
from ..core.fingerprint import canonical_json, content_key
from ..core.options import Range, declare_fields
from ..core.registry import Registry
from ..metrics.text import TEXT_METRICS

TaskKind = Literal["classification", "regression", "generation"]


@dataclass(frozen=True)
class Split:
    """One split: single texts (``text_b is None``) or text pairs, with labels.

    For generation tasks ``text_a`` is the source (the prompt's content) and a label is the
    reference: a string (summarization) or a list of gold answers, empty if unanswerable (QA).

    ``clusters`` (optional): a source id per example (e.g. the paper a sentence comes from).
    Examples of one cluster are not independent, so the tables' bootstrap resamples whole
    clusters of the test split (``docs/statistics.md``); training ignores them.
    """

    text_a: Sequence[str]
    text_b: Sequence[str] | None
    labels: Sequence[int | float]
    clusters: Sequence[str | int] | None = None

    def __post_init__(self) -> None:
        n = len(self.labels)
        if len(self.text_a) != n or (self.text_b is not None and len(self.text_b) != n) or (
                self.clusters is not None and len(self.clusters) != n):
            raise BomfError("split has texts, labels or clusters of different lengths; fix the task loader")

    def __len__(self) -> int:
        return len(self.labels)

    def subsample(self, n: int | None, seed: int) -> "Split":
        """A fixed random subset of ``n`` examples (all of them if ``n`` is None or too big)."""
        if n is None or n >= len(self):
            return self
        idx = sorted(random.Random(seed).sample(range(len(self)), n))
        return self.select(idx)

    def select(self, idx: Sequence[int]) -> "Split":
        return Split(
            text_a=[self.text_a[i] for i in idx],
            text_b=None if self.text_b is None else [self.text_b[i] for i in idx],
            labels=[self.labels[i] for i in idx],
            clusters=None if self.clusters is None else [self.clusters[i] for i in idx],
        )


@dataclass(frozen=True)
class Splits:
    train: Split
    val: Split
    test: Split

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


@dataclass(frozen=True)
class SplitLimits:
    """Optional caps on split sizes (smoke runs, CPU budgets); part of every cache key."""

    train: Annotated[int, Range(1)] | None = None
    val: Annotated[int, Range(1)] | None = None
    test: Annotated[int, Range(1)] | None = None

    def __post_init__(self) -> None:
        for name, option in LIMIT_OPTIONS.items():
            option.check(getattr(self, name), where="split limits:")

    def apply(self, splits: Splits, seed: int = 0) -> Splits:
        return Splits(
            train=splits.train.subsample(self.train, seed),
            val=splits.val.subsample(self.val, seed + 1),
            test=splits.test.subsample(self.test, seed + 2),
        )


LIMIT_OPTIONS = declare_fields(SplitLimits, owner="split limits")
# (task object, limits) -> data fingerprint; the task is held so its id cannot be reused.
_DATA_FINGERPRINTS: dict[tuple[int, SplitLimits], tuple[object, str]] = {}


@dataclass(frozen=True)
class Task:
    """A registered task.

    ``load()`` returns the full train/val/test splits; it is deterministic (fixed split seed).
    ``metrics`` lists every reported metric; ``primary_metric`` is the one methods select on.

    ``cluster_unit`` names what a cluster is when the splits carry cluster ids (``Split.clusters``,
    e.g. "paper"); the tables then resample whole clusters of the test split.

    Generation tasks also say how a label becomes the training target (``target_of``), what the
    model says for "no answer" (``no_answer``, mapped to "" before scoring) and the target /
    decoding length bounds; their metrics are text metrics (``bomf.metrics.text``), scored per
    example.
    """

    name: str
    kind: TaskKind
    num_labels: int
    metrics: tuple[str, ...]
    primary_metric: str
    load: Callable[[], Splits]
    source: Literal["offline", "hub"]
    description: str
    max_length: int = 128
    label_names: tuple[str, ...] = ()
    default_limits: SplitLimits = field(default_factory=SplitLimits)
    target_of: Callable[[object], str] | None = None
    no_answer: str | None = None
    max_target_length: int = 64
    max_new_tokens: int = 64
    cluster_unit: str | None = None

    def __post_init__(self) -> None:
        if self.primary_metric not in self.metrics:
            raise BomfError(f"task {self.name}: primary metric {self.primary_metric} is not in {self.metrics}")
        if self.kind == "generation" and self.target_of is None:
            raise BomfError(f"task {self.name}: a generation task needs target_of (label -> training target)")
        if self.kind == "generation" and not set(self.metrics) <= set(TEXT_METRICS):
            raise BomfError(f"task {self.name}: generation metrics must be text metrics ({', '.join(TEXT_METRICS)})")

    @property
    def is_generation(self) -> bool:
        return self.kind == "generation"

    def target(self, label) -> str:
        """The training target of a label (generation tasks)."""
        assert self.target_of is not None
        return self.target_of(label)

    def clean_prediction(self, text: str) -> str:
        """A decoded prediction as it is scored: stripped, the no-answer string mapped to ""."""
        text = text.strip()
        if self.no_answer is not None and text.lower().rstrip(".") == self.no_answer.lower():
            return ""
        return text

    def load_splits(self, limits: SplitLimits | None = None) -> Splits:
        """The splits, capped by ``limits`` (or the task's defaults), checked for sanity."""
        splits = (limits or self.default_limits).apply(self.load())
        for split_name, split in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
            if len(split) == 0:
                raise BomfError(f"task {self.name}: the {split_name} split is empty; check the data source or the limits")
            if self.kind == "classification" and split_name != "test" and len(set(split.labels)) < 2:
                raise BomfError(
                    f"task {self.name}: the {split_name} split has a single class; raise its size limit"
                )
        return splits

    def data_fingerprint(self, limits: SplitLimits | None = None) -> str:
        """A hash of the splits as loaded with ``limits`` (texts, labels, training targets) and of
        the task's declared shape (kind, labels, metrics, length bounds). Once per process."""
        limits = limits or self.default_limits
        memo = (id(self), limits)
        if memo not in _DATA_FINGERPRINTS:
            splits = self.load_splits(limits)
            shape = {"kind": self.kind, "num_labels": self.num_labels, "metrics": self.metrics,
                     "primary_metric": self.primary_metric, "label_names": self.label_names,
                     "max_length": self.max_length, "no_answer": self.no_answer,
                     "max_target_length": self.max_target_length, "max_new_tokens": self.max_new_tokens}
            h = hashlib.sha256(canonical_json(shape).encode())
            for name in ("train", "val", "test"):
                split = getattr(splits, name)
                targets = [self.target(label) for label in split.labels] if self.is_generation else None
                h.update(canonical_json([name, list(split.text_a), None if split.text_b is None else list(split.text_b),
                                         list(split.labels), targets]).encode())
            _DATA_FINGERPRINTS[memo] = (self, content_key(h.hexdigest()))
        return _DATA_FINGERPRINTS[memo][1]

    def with_options(self, **changes) -> "Task":
        return replace(self, **changes)


TASKS: Registry[Task] = Registry("task", packages=("bomf.tasks",), entry_point_group="bomf.tasks")


def register_task(task: Task) -> Task:
    return TASKS.register(task.name, task)


def get_task(name: str) -> Task:
    return TASKS.get(name)


def offline_task_names() -> list[str]:
    """The registered tasks that need no network (named in the Hub's offline error)."""
    return [name for name, task in TASKS if task.source == "offline"]


def carve_val(train: Split, n_val: int | float, seed: int) -> tuple[Split, Split]:
    """Split ``train`` into (train, val) with a fixed seed; ``n_val`` is a count or a fraction."""
    n = len(train)
    k = int(round(n * n_val)) if isinstance(n_val, float) else int(n_val)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    val_idx, train_idx = sorted(order[:k]), sorted(order[k:])
    return train.select(train_idx), train.select(val_idx)
