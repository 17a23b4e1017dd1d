"""How long a suite's pending cells will take, from the costs that stored records measured.

``bomf run SUITE --dry-run`` lists every pending cell with an estimate. A cell's estimate is the
fusion's seconds (method + test evaluation) of a stored record of the same cell, and a group's
first pending cell also carries its trajectory's training and stage-1 seconds, unless the
trajectory is already in the cache. "The same cell" is, in order of preference: a record with
the same fusion key (same configuration: exact) in your results, the reference, or the cache;
else a record at the same place in the same suite (``<suite>/<task>/.../seed<k>.json``; its
configuration may differ: approximate). A cell with neither has no estimate, and the total
says how many cells it covers. Seconds were measured on the machine that made the record.

Example:
    >>> import tempfile
    >>> from bomf.harness.store import ResultStore, example_record
    >>> store = ResultStore(tempfile.mkdtemp())
    >>> rec = example_record(key="k1", cell="s/t/m/default/last/seed0.json",
    ...                      costs={"method_seconds": 2.0, "test_seconds": 1.0, "fused_evaluations": 0},
    ...                      trajectory={"key": "t1", "costs": {"train_seconds": 50.0, "member_eval_seconds": 10.0},
    ...                                  "members_val": []},
    ...                      stage1={"costs": {"seconds": 0.0}})
    >>> store.write(rec["cell"], rec)
    >>> book = CostBook.from_stores([store], ["s"])
    >>> book.fusion_seconds("k1", "s/t/m/default/last/seed0.json"), book.trajectory_seconds("t1", "")
    ((3.0, 'exact'), 60.0)
    >>> format_seconds(4000), format_seconds(6000)
    ('66.7 min', '1 h 40 min')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .store import ResultStore


def format_seconds(seconds: float) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.1f} min"
    return f"{int(minutes // 60)} h {int(round(minutes % 60)):02d} min"


def _fusion_cost(record: dict) -> float:
    c = record.get("costs", {})
    return float(c.get("method_seconds", 0.0)) + float(c.get("test_seconds", 0.0))


def _trajectory_cost(record: dict) -> float:
    c = record.get("trajectory", {}).get("costs", {})
    return float(c.get("train_seconds", 0.0)) + float(c.get("member_eval_seconds", 0.0))


@dataclass
class CostBook:
    """Seconds measured by stored records: fusions by key and by cell place, trajectories
    (training + members' evaluations, plus stage 1) by trajectory key and by cell place."""

    fusion_by_key: dict
    fusion_by_cell: dict
    trajectory_by_key: dict
    trajectory_by_cell: dict

    @classmethod
    def from_stores(cls, stores: list[ResultStore], suites: list[str]) -> "CostBook":
        book = cls({}, {}, {}, {})
        for store in stores:
            for suite in suites:
                for r in store.records(suite):
                    stage1 = float(r.get("stage1", {}).get("costs", {}).get("seconds", 0.0))
                    book.fusion_by_key.setdefault(r.get("key"), _fusion_cost(r))
                    book.trajectory_by_key.setdefault(r.get("trajectory", {}).get("key"), _trajectory_cost(r) + stage1)
                    if r.get("cell"):
                        book.fusion_by_cell.setdefault(r["cell"], _fusion_cost(r))
                        book.trajectory_by_cell.setdefault(r["cell"], _trajectory_cost(r) + stage1)
        return book

    def fusion_seconds(self, key: str | None, cell: str) -> tuple[float | None, str]:
        if key is not None and key in self.fusion_by_key:
            return self.fusion_by_key[key], "exact"
        if cell in self.fusion_by_cell:
            return self.fusion_by_cell[cell], "approximate"
        return None, ""

    def trajectory_seconds(self, key: str | None, cell: str) -> float | None:
        if key is not None and key in self.trajectory_by_key:
            return self.trajectory_by_key[key]
        return self.trajectory_by_cell.get(cell)


@dataclass
class CellEstimate:
    cell: str  # relpath
    seconds: float | None  # None: no stored record says
    basis: str  # what the number rests on


def estimate_cells(groups, book: CostBook, cached_fusion, cached_trajectory, stage1_config) -> list[CellEstimate]:
    """An estimate per pending cell, in the order of ``groups``.

    ``cached_fusion(request)`` / ``cached_trajectory(request)`` say whether the cache holds a
    fusion or a trajectory; ``stage1_config(cell)`` is the training config of a default stage 1 or
    of a search finished in the cache, or None where a search is still to choose it (then no key
    is known and matches are by place).
    """
    out = []
    for cells in groups:
        config = stage1_config(cells[0])
        needs_training = True
        for cell in cells:
            request = cell.fusion_request(config) if config is not None else None
            if request is not None and cached_fusion(request):
                out.append(CellEstimate(cell.relpath(), 0.0, "in the cache"))
                continue
            seconds, how = book.fusion_seconds(request.key() if request else None, cell.relpath())
            basis = f"{how} match" if seconds is not None else "no stored record"
            if needs_training:
                needs_training = False
                if request is not None and cached_trajectory(request.trajectory):
                    basis += ", trajectory cached"
                else:
                    train = book.trajectory_seconds(request.trajectory.key() if request else None, cell.relpath())
                    if train is None or seconds is None:
                        seconds, basis = None, basis + ", training time unknown" if seconds is not None else basis
                    else:
                        seconds += train
                        basis += f", + {format_seconds(train)} stage 1 and training"
            out.append(CellEstimate(cell.relpath(), seconds, basis))
    return out
