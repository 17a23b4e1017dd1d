"""Time two implementations side by side, interleaved, in one process; report the ratio.

Interleaving (A, B, A, B, ...) makes both see the same machine load, which matters on a
2-core machine where a busy neighbour slows torch several-fold. Medians, not means.

Example:
    >>> r = compare(lambda: sum(range(1000)), lambda: sum(range(100000)), rounds=3)
    >>> r["ratio"] > 1
    True
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

RESULTS = Path(__file__).resolve().parent.parent / "results" / "benchmarks"


def compare(ours: Callable[[], object], theirs: Callable[[], object], rounds: int = 3, warmup: int = 1) -> dict:
    """Median seconds of each and ``ratio = theirs / ours`` (above 1: ours is faster)."""
    for _ in range(warmup):
        ours()
        theirs()
    t_ours, t_theirs = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        ours()
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        theirs()
        t_theirs.append(time.perf_counter() - t0)
    med_ours, med_theirs = statistics.median(t_ours), statistics.median(t_theirs)
    return {"ours_s": med_ours, "theirs_s": med_theirs, "ratio": med_theirs / med_ours, "rounds": rounds,
            "ours_all_s": t_ours, "theirs_all_s": t_theirs}


def record(name: str, result: dict, **context) -> dict:
    """Write ``results/benchmarks/<name>.json`` with the machine it ran on."""
    out = {"benchmark": name, **result, **context, "torch": torch.__version__, "threads": torch.get_num_threads(),
           "machine": platform.machine(), "processor": platform.processor() or platform.machine()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    return out
