"""The result store: one JSON record per cell, written atomically, under a results root.

A root holds one folder per suite: ``<root>/<suite>/runs/<task>/<model>/<stage1>/<method>/seed<k>.json``
(the records), ``<root>/<suite>/tables/`` and ``<root>/<suite>/plots/`` (derived from the records).
Your runs' root is ``$BOMF_RESULTS`` or ``./bomf-results``; the committed reference uses the same
layout under ``results/reference/`` (``bomf.core.paths``). A cell's relpath starts with its suite
(``<suite>/<task>/...``, as records carry it in ``cell``).

A record is the source of truth for every table and plot. A cell counts as done when its file
exists and holds the fusion key of the cell's current configuration (change the config, and
the cell is recomputed).

Example:
    >>> import tempfile
    >>> store = ResultStore(tempfile.mkdtemp())
    >>> store.write("s/t/m/default/last/seed0.json", {"key": "k1", "suite": "s"})
    >>> store.done("s/t/m/default/last/seed0.json", "k1"), len(store.records("s"))
    (True, 1)
    >>> store.path("s/t/m/default/last/seed0.json").relative_to(store.root).as_posix()
    's/runs/t/m/default/last/seed0.json'
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.atomic import write_json
from ..core.paths import UnwritableError, results_root


class ResultStore:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else results_root()

    def suite_folder(self, suite: str, part: str = "runs") -> Path:
        """``<root>/<suite>/<part>``: part is runs, tables or plots."""
        return self.root / suite / part

    def path(self, relpath: str) -> Path:
        suite, _, rest = relpath.partition("/")
        return self.suite_folder(suite) / rest

    def read(self, relpath: str) -> dict | None:
        p = self.path(relpath)
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None  # never complete: writes are atomic, so this is foreign damage; recompute

    def done(self, relpath: str, key: str) -> bool:
        rec = self.read(relpath)
        return rec is not None and rec.get("key") == key

    def write(self, relpath: str, record: dict) -> None:
        try:
            write_json(self.path(relpath), record)
        except OSError as exc:  # a write that fails after the folder was checked: disk full, permissions changed
            raise UnwritableError(f"cannot write results under {self.root} ({exc.strerror or type(exc).__name__}); "
                                  "set BOMF_RESULTS to a writable folder or free space there") from exc

    def records(self, suite: str) -> list[dict]:
        """Every record of a suite, in a fixed order (by path)."""
        folder = self.suite_folder(suite)
        out = []
        for p in sorted(folder.rglob("*.json")):
            if p.name.startswith("."):
                continue
            rec = self.read(f"{suite}/{p.relative_to(folder).as_posix()}")
            if rec is not None:
                out.append(rec)
        return out
