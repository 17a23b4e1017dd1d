"""The result store: one JSON record per cell, written atomically, under a results root.

A root holds one folder per suite: ``<root>/<suite>/runs/<task>/<model>/<stage1>/<method>/seed<k>.json``
(the records), ``<root>/<suite>/tables/`` and ``<root>/<suite>/plots/`` (derived from the records).
Your runs' root is ``$BOMF_RESULTS`` or ``./bomf-results``; the committed reference uses the same
layout under ``results/reference/`` (``bomf.core.paths``). A cell's relpath starts with its suite
(``<suite>/<task>/...``, as records carry it in ``cell``).

A record is the source of truth for every table and plot. A cell counts as done when its file
exists, is a complete record (the fields tables and plots read, ``REQUIRED``) and holds the
fusion key of the cell's current configuration (change the config, and the cell is recomputed).

Records are written atomically, so a file that cannot be read or is incomplete was damaged by
something else: ``records`` names every such file in one line and refuses to build tables
from a partial set unless told to skip them (``skip_bad=True``); a re-run recomputes them.
Every path stays inside the store's folder.

Example:
    >>> import tempfile
    >>> store = ResultStore(tempfile.mkdtemp())
    >>> store.write("s/t/m/default/last/seed0.json", example_record(key="k1"))
    >>> store.done("s/t/m/default/last/seed0.json", "k1"), len(store.records("s"))
    (True, 1)
    >>> store.path("../elsewhere.json")
    Traceback (most recent call last):
    ...
    bomf.core.errors.BomfError: record path '../elsewhere.json' leaves the results folder; suite, task, model, stage-1 and method names must be plain folder names
    >>> store.path("s/t/m/default/last/seed0.json").relative_to(store.root).as_posix()
    's/runs/t/m/default/last/seed0.json'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..core.atomic import write_json
from ..core.errors import BomfError
from ..core.paths import UnwritableError, results_root

# What tables and plots read from a record (dotted paths); a record without one is incomplete.
REQUIRED = ("key", "task", "model", "method", "seed", "primary_metric", "val.loss", "val.metrics", "test.loss",
            "test.metrics", "test.predictions", "test.labels", "costs.method_seconds", "costs.fused_evaluations",
            "trajectory.costs.train_seconds", "trajectory.members_val")


def missing_fields(record: object) -> list[str]:
    """The ``REQUIRED`` fields ``record`` lacks (all of them if it is not a JSON object)."""
    if not isinstance(record, dict):
        return list(REQUIRED)
    out = []
    for dotted in REQUIRED:
        node: object = record
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            out.append(dotted)
    if not out:
        p = record["primary_metric"]
        for split in ("val", "test"):
            if not isinstance(record[split]["metrics"], dict) or p not in record[split]["metrics"]:
                out.append(f"{split}.metrics.{p}")
    return out


def example_record(**fields) -> dict:
    """A minimal complete record (for examples and tests)."""
    rec = {"key": "k", "task": "t", "model": "m", "method": "last", "seed": 0, "primary_metric": "accuracy",
           "val": {"loss": 0.5, "metrics": {"accuracy": 0.8}},
           "test": {"loss": 0.5, "metrics": {"accuracy": 0.8}, "predictions": [1], "labels": [1], "n": 1},
           "costs": {"method_seconds": 1.0, "fused_evaluations": 0, "budget": 0},
           "trajectory": {"costs": {"train_seconds": 10.0}, "members_val": []}}
    rec.update(fields)
    return rec


@dataclass
class StoredRecord:
    """A record file as found: its contents, or a one-line ``problem`` saying why it cannot be used."""

    path: Path
    record: dict | None
    problem: str | None = None


class BadRecordsError(BomfError):
    """Some records of a suite cannot be read or are incomplete; ``problems`` has one line each."""

    def __init__(self, message: str, problems: list[str]):
        super().__init__(message)
        self.problems = problems


class ResultStore:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else results_root()

    def suite_folder(self, suite: str, part: str = "runs") -> Path:
        """``<root>/<suite>/<part>``: part is runs, tables or plots."""
        return self.root / suite / part

    def path(self, relpath: str) -> Path:
        parts = PurePosixPath(relpath).parts
        if PurePosixPath(relpath).is_absolute() or ".." in parts or len(parts) < 2 or "\\" in relpath:
            raise BomfError(f"record path {relpath!r} leaves the results folder; suite, task, model, stage-1 and "
                            "method names must be plain folder names")
        suite, _, rest = relpath.partition("/")
        return self.suite_folder(suite) / rest

    def check(self, relpath: str) -> StoredRecord | None:
        """The record at ``relpath`` and whether it is usable; None if there is none."""
        p = self.path(relpath)
        if not p.exists():
            return None
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
            return StoredRecord(p, None, f"record {p} cannot be read (not valid JSON: {reason}; truncated or damaged)")
        except OSError as exc:
            return StoredRecord(p, None, f"record {p} cannot be read ({exc.strerror or type(exc).__name__})")
        missing = missing_fields(rec)
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            return StoredRecord(p, rec if isinstance(rec, dict) else None,
                                f"record {p} is incomplete (no {missing[0]}{more})")
        return StoredRecord(p, rec)

    def read(self, relpath: str) -> dict | None:
        """The record at ``relpath`` if it is complete, else None (absent, damaged: recompute)."""
        stored = self.check(relpath)
        return stored.record if stored is not None and stored.problem is None else None

    def done(self, relpath: str, key: str) -> bool:
        rec = self.read(relpath)
        return rec is not None and rec.get("key") == key

    def write(self, relpath: str, record: dict) -> None:
        try:
            write_json(self.path(relpath), record)
        except OSError as exc:  # a write that fails after the folder was checked: disk full, permissions changed
            raise UnwritableError(f"cannot write results under {self.root} ({exc.strerror or type(exc).__name__}); "
                                  "set BOMF_RESULTS to a writable folder or free space there") from exc

    def scan(self, suite: str) -> tuple[list[dict], list[str]]:
        """(every usable record of a suite in a fixed order (by path), a line per unusable file)."""
        folder = self.suite_folder(suite)
        records, problems = [], []
        for p in sorted(folder.rglob("*.json")):
            if p.name.startswith("."):
                continue  # an atomic write's temporary file
            stored = self.check(f"{suite}/{p.relative_to(folder).as_posix()}")
            if stored.problem is not None:
                problems.append(stored.problem)
            else:
                records.append(stored.record)
        return records, problems

    def records(self, suite: str, skip_bad: bool = False) -> list[dict]:
        """Every usable record of a suite; raises ``BadRecordsError`` if any file is unusable
        (``skip_bad=True``: leave those out; ``scan`` says which)."""
        records, problems = self.scan(suite)
        if problems and not skip_bad:
            raise BadRecordsError(
                f"{len(problems)} record{'s' if len(problems) > 1 else ''} of suite {suite} under {self.root} cannot be "
                f"used (named above); re-run the suite to recompute them (bomf run {suite}), or pass "
                "--skip-bad-records to build tables without them", problems)
        return records
