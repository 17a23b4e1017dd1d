"""The harness: a suite -> cells -> (stage 1 -> trajectory -> fusions) per group -> records.

Cells that share a trajectory form a group; a group is one job for the executor. Before any
compute, the suite is validated and cells already in the store (same fusion key) are dropped,
so a re-run of a finished suite does nothing, and adding a method computes only its cells.

Example:
    >>> from bomf.suite import load_suite
    >>> plan = plan_suite(load_suite("smoke"))
    >>> sorted(plan)[:1]
    [('aclsum-qnli', 'minilm', 0, 'default')]
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass

from .pipeline import cached_record, prepare_context, run_fusion
from .stage1 import get_stage1
from .store import ResultStore
from .suite import Cell, Suite


@dataclass
class GroupJob:
    cells: list[Cell]
    store_root: str
    device: str
    progress: bool
    env: dict  # cache locations, so a remote worker writes where the driver reads


def plan_suite(suite: Suite) -> dict[tuple, list[Cell]]:
    groups: dict[tuple, list[Cell]] = defaultdict(list)
    for cell in suite.cells():
        groups[cell.group()].append(cell)
    return dict(groups)


def stage1_record(cell: Cell):
    return get_stage1(cell.stage1).choose(cell.task, cell.model, cell.seed, cell.train, cell.limits,
                                          **dict(cell.stage1_options))


def cell_record(cell: Cell, fusion: dict, stage1) -> dict:
    """The stored record: the fusion record plus the cell's place in the suite and stage-1 cost."""
    return {**fusion, "suite": cell.suite, "label": cell.label, "cell": cell.relpath(),
            "stage1": {"strategy": cell.stage1, "costs": stage1.costs, "info": stage1.info}}


def run_group(job: GroupJob) -> list[tuple[str, dict]]:
    """Run every missing cell of one group; return (relpath, record) pairs (also written if local)."""
    for k, v in job.env.items():
        os.environ[k] = v
    store = ResultStore(job.store_root)
    stage1 = stage1_record(job.cells[0])
    out, context = [], None
    for cell in job.cells:
        request = cell.fusion_request(stage1.config)
        if store.done(cell.relpath(), request.key()):
            continue
        fusion = cached_record(request)
        if fusion is None:
            if context is None:
                context = prepare_context(request.trajectory, job.device, job.progress)
            fusion = run_fusion(request, job.device, job.progress, context=context)
        record = cell_record(cell, fusion, stage1)
        store.write(cell.relpath(), record)
        out.append((cell.relpath(), record))
    return out


@dataclass
class SweepReport:
    cells: int
    skipped: int
    computed: int
    seconds: float


def pending_groups(suite: Suite, store: ResultStore) -> tuple[list[list[Cell]], int]:
    """Groups with at least one cell not in the store, and the number of cells already there."""
    todo, skipped = [], 0
    for cells in plan_suite(suite).values():
        config = stage1_record(cells[0]).config if cells[0].stage1 == "default" else None
        missing = []
        for cell in cells:
            if config is not None and store.done(cell.relpath(), cell.fusion_request(config).key()):
                skipped += 1
            else:
                missing.append(cell)
        if missing:
            todo.append(missing)
    return todo, skipped


def run_suite(suite: Suite, executor=None, store: ResultStore | None = None, device: str = "auto",
              progress: bool = True) -> SweepReport:
    from .executors import LocalExecutor

    executor = executor or LocalExecutor()
    store = store or ResultStore()
    start = time.perf_counter()
    todo, skipped = pending_groups(suite, store)
    env = {k: os.environ[k] for k in ("BOMF_CACHE", "BOMF_DATA_CACHE", "BOMF_RESULTS", "HF_HUB_OFFLINE")
           if k in os.environ}
    jobs = [GroupJob(cells=c, store_root=str(store.root), device=device, progress=progress, env=env) for c in todo]
    computed = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(len(j.cells) for j in jobs), desc=f"suite {suite.name}", unit="cell")
    for written in executor.map(run_group, jobs):
        for relpath, record in written:
            if not store.done(relpath, record["key"]):  # a remote worker's store may not be ours
                store.write(relpath, record)
        computed += len(written)
        if bar is not None:
            bar.update(len(written))
    if bar is not None:
        bar.close()
    return SweepReport(cells=len(suite.cells()), skipped=skipped, computed=computed,
                       seconds=time.perf_counter() - start)
