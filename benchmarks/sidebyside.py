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
import os
import platform
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

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


@contextmanager
def throwaway_fusion_cache(*trajectory_keys: str) -> Iterator[Path]:
    """A fresh ``$BOMF_CACHE`` (so a fusion is never a cache hit) holding links to the named
    trajectories of the user's cache, wherever the cache settings put it (``$BOMF_CACHE``, else
    ``$XDG_CACHE_HOME/bomf``, else ``~/.cache/bomf``); downloaded data stays shared. The settings
    are restored afterwards.
    """
    from bomf.core import paths

    user = paths.cache_root()
    saved = {k: os.environ.get(k) for k in ("BOMF_CACHE", "BOMF_DATA_CACHE")}
    data = paths.cache_dir("data")  # before BOMF_CACHE moves: the user's data cache
    with tempfile.TemporaryDirectory(prefix="bomf-bench-") as tmp:
        (Path(tmp) / "trajectories").mkdir()
        for key in trajectory_keys:
            os.symlink(user / "trajectories" / key, Path(tmp) / "trajectories" / key)
        os.environ["BOMF_DATA_CACHE"] = str(data)
        os.environ["BOMF_CACHE"] = tmp
        try:
            yield Path(tmp)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
