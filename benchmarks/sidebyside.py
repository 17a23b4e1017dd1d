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
    """Median seconds of each and ``ratio = theirs / ours`` (above 1: ours is faster).

    Also the process's CPU seconds of each call (``cpu_ratio``): on a busy machine a call's wall
    time includes the time other processes held the cores; its CPU time does not, so on one
    torch thread ``cpu_ratio`` is the closer estimate of the ratio on an idle machine.
    """
    for _ in range(warmup):
        ours()
        theirs()
    t_ours, t_theirs, c_ours, c_theirs = [], [], [], []
    for _ in range(rounds):
        c0, t0 = time.process_time(), time.perf_counter()
        ours()
        t_ours.append(time.perf_counter() - t0)
        c_ours.append(time.process_time() - c0)
        c0, t0 = time.process_time(), time.perf_counter()
        theirs()
        t_theirs.append(time.perf_counter() - t0)
        c_theirs.append(time.process_time() - c0)
    med_ours, med_theirs = statistics.median(t_ours), statistics.median(t_theirs)
    cpu_ours, cpu_theirs = statistics.median(c_ours), statistics.median(c_theirs)
    return {"ours_s": med_ours, "theirs_s": med_theirs, "ratio": med_theirs / med_ours, "rounds": rounds,
            "ours_all_s": t_ours, "theirs_all_s": t_theirs, "ours_cpu_s": cpu_ours, "theirs_cpu_s": cpu_theirs,
            "cpu_ratio": cpu_theirs / max(cpu_ours, 1e-9), "load_average": os.getloadavg()[0]}


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


def authors_eval_pass(model, task, encoded, device: str = "cpu", autocast=None, pad_to: int = 512,
                      batch_size: int = 32) -> Callable[[], float]:
    """The authors' evaluation loop as a callable returning the mean loss: every example padded
    to ``pad_to`` tokens (512 in their code; a smaller model's own maximum), batches of 32 in
    split order, ``autocast`` (a context manager factory) around each forward pass."""
    import contextlib

    from bomf.evaluation.base import task_loss
    from bomf.tasks.encoding import collate

    n = len(encoded)
    padded = [{k: v.to(device) for k, v in collate(encoded, list(range(i, min(i + batch_size, n))), pad_to=pad_to).items()}
              for i in range(0, n, batch_size)]

    def run() -> float:
        loss = 0.0
        with torch.inference_mode(), (autocast() if autocast else contextlib.nullcontext()):
            for batch in padded:
                logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
                loss += float(task_loss(task, logits, batch["labels"], reduction="sum"))
        return loss / n

    return run
