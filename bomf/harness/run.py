"""The harness: a suite -> cells -> (stage 1 -> trajectory -> fusions) per group -> records.

Cells that share a trajectory form a group; a group is one job for the executor. Before any
compute, the suite is validated and cells already in the store (same fusion key) are dropped,
so a re-run of a finished suite does nothing, and adding a method computes only its cells.

Several harness processes may share a results folder and a cache (``bomf.harness.claims``):

- a process claims a group (``<results>/.claims/<suite>/<group>.claim``) before running it, skips
  groups another live process holds (one log line each), tries those once more at the end, and
  reports the cells it left to others; records are written before the claim is released;
- work that several suites or results folders can share through one cache (a stage-1 search, a
  trajectory, a fusion and its journal) is claimed under ``<cache>/claims/``; a process waits
  for such a claim instead of computing the same thing next to its holder.

With Ray, group claims are taken by the driver (which writes the store); cache claims by the
workers. A killed process's claims are stale at once on its own host and after
``$BOMF_CLAIM_TIMEOUT`` seconds elsewhere, so a re-run takes them over.

Every job carries the plugins this process loaded (``bomf.core.plugins.loaded()``: a suite's
``plugins``, ``--plugin``, ``$BOMF_PLUGINS``), and a worker loads them before it runs a cell;
entry-point plugins are found by each worker's own registries.

Messages go through ``logging`` (logger ``bomf.harness``): one INFO line per finished cell
(the cell, its seconds, its test metric), WARNING for what a user must see even with ``--quiet``
(claims held by other processes, waits). The CLI decides where they go.

Example:
    >>> from bomf.harness.suite import load_suite
    >>> plan = plan_suite(load_suite("smoke"))
    >>> sorted(plan)[:1]
    [('aclsum-qnli', 'minilm', 0, 'default')]
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

import torch

from .claims import Claim, claim_timeout, describe, read_owner, remove_stale, try_claim, wait_claim
from ..core import plugins as plugin_loader
from ..core.device import torch_threads
from ..core.fingerprint import content_key
from ..core.paths import cache_dir, check_writable
from ..fusion.pipeline import cached_record, prepare_context, run_fusion
from ..stage1.strategies import get_stage1
from .store import ResultStore
from .suite import Cell, Suite


@dataclass
class GroupJob:
    cells: list[Cell]
    store_root: str
    device: str
    progress: bool
    env: dict  # cache locations, so a remote worker writes where the driver reads
    group_id: str = ""  # the name of the group's claim (the driver releases it)
    plugins: tuple = ()  # bomf.core.plugins.Plugin: loaded by the worker before any cell
    threads: int | None = None  # torch threads the worker computes with (None: its own); CPU keys hold it
    on_cell: Optional[Callable] = None  # (relpath, record, seconds) after each cell; in-process executors only


def plan_suite(suite: Suite) -> dict[tuple, list[Cell]]:
    groups: dict[tuple, list[Cell]] = defaultdict(list)
    for cell in suite.cells():
        groups[cell.group()].append(cell)
    return dict(groups)


logger = logging.getLogger("bomf.harness")


def log_line(message: str) -> None:
    """Harness news a user should see even with --quiet (claims, waits): a WARNING record."""
    logger.warning(message)


def cell_line(relpath: str, record: dict, seconds: float) -> str:
    """``rt-polarity/minilm/default/bomf/seed0: 41.2 s, test accuracy 0.8120`` (suite and .json dropped)."""
    name = relpath.partition("/")[2].removesuffix(".json") or relpath
    metric = record.get("primary_metric")
    value = record.get("test", {}).get("metrics", {}).get(metric)
    score = f", test {metric} {value:.4f}" if isinstance(value, (int, float)) else ""
    return f"{name}: {seconds:.1f} s{score}"


def group_id(cells: list[Cell]) -> str:
    """A file name for a group: ``rt-polarity__minilm__seed0__default``."""
    task, model, seed, stage1 = cells[0].group()
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{task}__{model}__seed{seed}__{stage1}")


def group_claims_folder(store: ResultStore, suite_name: str) -> Path:
    return store.root / ".claims" / suite_name


def cache_claim_path(kind: str, key: str) -> Path:
    """The claim on shared cache work: ``kind`` is stage1, trajectory or fusion."""
    return cache_dir("claims", f"{kind}-{key}.claim")


def _hold(kind: str, key: str, what: str) -> Claim:
    """Claim cache work, waiting (with one log line) while another live process does it."""
    return wait_claim(cache_claim_path(kind, key),
                      on_wait=lambda owner: log_line(f"waiting for {describe(owner)}, which is computing {what}"))


def stage1_record(cell: Cell):
    return get_stage1(cell.stage1).choose(cell.task, cell.model, cell.seed, cell.train, cell.limits,
                                          **dict(cell.stage1_options))


def planned_config(cell: Cell, log: Callable[[str], None] | None = None):
    """The training config of a group's trajectory, as far as it is known without compute: the
    suite's for the default stage 1; a search's choice read back from its finished journal
    (``journal_only``), or None (with one ``log`` line) when the cache does not hold it, so
    the group's cells count as not stored (running them repeats the search)."""
    from ..stage1.search import Stage1NotCached, journal_only

    if cell.stage1 == "default":
        return stage1_record(cell).config
    if not get_stage1(cell.stage1).journaled:
        if log is not None:
            log(f"{cell.relpath()}: stage 1 '{cell.stage1}' is not journaled (register_stage1(..., journaled=True)), "
                "so its choice is known only by running it: its stored records count as not stored")
        return None
    try:
        with journal_only():
            return stage1_record(cell).config
    except Stage1NotCached as exc:
        if log is not None:
            log(f"{cell.relpath()}: {exc}, so its stored records cannot be checked and count as not stored")
        return None


def cell_record(cell: Cell, fusion: dict, stage1) -> dict:
    """The stored record: the fusion record plus the cell's place in the suite and stage-1 cost."""
    return {**fusion, "suite": cell.suite, "label": cell.label, "cell": cell.relpath(),
            **({"regime": cell.regime} if cell.regime else {}),
            "stage1": {"strategy": cell.stage1, "costs": stage1.costs, "info": stage1.info}}


def claimed_stage1_record(cell: Cell):
    """``stage1_record``, with a search (and its trial journal) run by one process at a time."""
    if cell.stage1 == "default":
        return stage1_record(cell)  # no search: nothing to share or to journal
    identity = [cell.task, cell.model, cell.seed, asdict(cell.train), asdict(cell.limits) if cell.limits else None,
                cell.stage1, cell.stage1_options]
    key = content_key(identity)
    with _hold("stage1", key, f"stage 1 '{cell.stage1}' of {cell.task}/{cell.model}/seed{cell.seed}"):
        return stage1_record(cell)


def run_group(job: GroupJob, reused: list[str] | None = None) -> list[tuple[str, dict]]:
    """Run every missing cell of one group; return (relpath, record) pairs (also written if local).

    ``reused`` (if given) collects the relpaths whose fusion was found in the fusion cache, so the
    sweep's summary can tell "computed now" from "served from the cache"."""
    for k, v in job.env.items():
        os.environ[k] = v
    plugin_loader.load(job.plugins)  # a worker process knows only what it imports
    with torch_threads(job.threads):  # the count the driver planned (and keyed) with
        return _run_group(job, reused)


def _run_group(job: GroupJob, reused: list[str] | None) -> list[tuple[str, dict]]:
    store = ResultStore(job.store_root)
    started = time.perf_counter()  # the first cell's time includes stage 1 and the trajectory
    stage1 = claimed_stage1_record(job.cells[0])
    out, context = [], None
    for cell in job.cells:
        request = cell.fusion_request(stage1.config, job.device)
        if store.done(cell.relpath(), request.key()):
            continue  # stored since the plan was made (by a process that held this group before us)
        fusion = cached_record(request)
        if fusion is not None:  # the same computation made earlier (same key): say so, it took no time now
            logger.info("%s: fusion %s found in the cache (computed earlier); its record reused",
                        cell.relpath(), request.key())
            if reused is not None:
                reused.append(cell.relpath())
        else:
            # One process per fusion: its journal takes one writer, and nothing is computed twice.
            with _hold("fusion", request.key(), f"{request.method} on {cell.task}/{cell.model}/seed{cell.seed}"):
                fusion = cached_record(request)  # finished by the process we waited for?
                if fusion is None:
                    if context is None:
                        with _hold("trajectory", request.trajectory.key(),
                                   f"the trajectory of {cell.task}/{cell.model}/seed{cell.seed}"):
                            context = prepare_context(request.trajectory, job.device, job.progress)
                    fusion = run_fusion(request, job.device, job.progress, context=context)
        record = cell_record(cell, fusion, stage1)
        store.write(cell.relpath(), record)
        out.append((cell.relpath(), record))
        if job.on_cell is not None:
            job.on_cell(cell.relpath(), record, time.perf_counter() - started)
        started = time.perf_counter()
    return out


def run_claimed_group(job: GroupJob) -> tuple[str, list[tuple[str, dict]], list[float], list[str]]:
    """``run_group`` that also says which group it ran (so the driver can release its claim),
    each cell's seconds (a remote worker cannot call the driver back while it runs) and which of
    its cells were served from the fusion cache."""
    seconds: list[float] = []
    reused: list[str] = []
    tell = job.on_cell

    def on_cell(relpath: str, record: dict, s: float) -> None:
        seconds.append(s)
        if tell is not None:
            tell(relpath, record, s)

    written = run_group(replace(job, on_cell=on_cell), reused)
    return job.group_id, written, seconds, reused


@dataclass
class SweepReport:
    cells: int
    skipped: int  # stored before this run started
    computed: int  # written by this run (including those served from the fusion cache)
    seconds: float
    left: list[str] = field(default_factory=list)  # cells left to other live processes (relpaths)
    holders: list[str] = field(default_factory=list)  # "<group> (<n> cells, <process>)" per group left
    stored_meanwhile: int = 0  # cells another process stored after this run had planned them
    from_cache: int = 0  # of ``computed``: records whose fusion was found in the fusion cache (no compute now)


def check_storage(store: ResultStore) -> None:
    """Fail before any compute if the results folder or the cache cannot be written."""
    check_writable(store.root, "results", "BOMF_RESULTS")
    check_writable(cache_dir(), "cache", "BOMF_CACHE")
    claim_timeout()  # a malformed BOMF_CLAIM_TIMEOUT, too


def executor_threads(executor) -> int | None:
    """The torch thread count an executor's jobs compute with (None: each worker's own)."""
    return getattr(executor, "threads", None)


def pending_groups(suite: Suite, store: ResultStore, device: str = "auto", log: Callable[[str], None] | None = None,
                   threads: int | str | None = None) -> tuple[list[list[Cell]], int]:
    """Groups with at least one cell not in the store, and the number of cells already there.

    A cell's key (data and weight fingerprints included) is computed only when a record for it
    exists, so planning a fresh suite loads no data. A stored record that cannot be read or
    lacks what tables need is named in one line (``log``) and recomputed, and so is each group
    whose readable records were made by another computation (another key). ``threads``: the torch
    thread count the cells will be computed with (``executor_threads``; None: this process's),
    which CPU keys hold; "stored": each group's as its records say (``hardware.torch_threads``),
    which asks whether a run is complete as it was computed (``bomf promote``).
    """
    todo, skipped = [], 0
    for cells in plan_suite(suite).values():
        stored_cells = [store.check(cell.relpath()) for cell in cells]
        readable = [s for s in stored_cells if s is not None and s.problem is None]
        for stored in stored_cells:
            if stored is not None and stored.problem is not None and log is not None:
                log(f"{stored.problem}; it counts as not stored (a run recomputes it)")
        count = threads
        if threads == "stored":
            count = readable[0].record.get("hardware", {}).get("torch_threads") if readable else None
        missing, other = [], 0
        with torch_threads(count):  # keys only for cells with a readable record: a fresh suite loads no data
            config = planned_config(cells[0], log) if readable else None
            for cell, stored in zip(cells, stored_cells):
                if stored is not None and stored.problem is None and config is not None:
                    if stored.record.get("key") == cell.fusion_request(config, device).key():
                        skipped += 1
                        continue
                    other += 1
                missing.append(cell)
        if other and log is not None:
            planned = f"{count if count is not None else torch.get_num_threads()} torch threads"
            made = sorted({str(s.record.get("hardware", {}).get("torch_threads")) for s in readable})
            log(f"{group_id(cells)}: {other} stored record(s) were made by another computation (another key: code, "
                f"options, data or thread count; made with {'/'.join(made)} torch threads, planned with {planned}); "
                "they count as not stored (a run recomputes them)")
        if missing:
            todo.append(missing)
    return todo, skipped


def run_suite(suite: Suite, executor=None, store: ResultStore | None = None, device: str = "auto",
              progress: bool = True, log: Callable[[str], None] = log_line) -> SweepReport:
    """Run a suite's missing cells; groups another live process holds are left to it (and reported)."""
    from .executors import LocalExecutor

    executor = executor or LocalExecutor()
    store = store or ResultStore()
    check_storage(store)
    start = time.perf_counter()
    claims = group_claims_folder(store, suite.name)
    remove_stale(claims)  # left by killed runs; a group whose claim is stale is retaken anyway
    threads = executor_threads(executor)
    todo, skipped = pending_groups(suite, store, device, log, threads)
    env = {k: os.environ[k] for k in ("BOMF_CACHE", "BOMF_DATA_CACHE", "BOMF_RESULTS", "HF_HUB_OFFLINE",
                                      "BOMF_CLAIM_TIMEOUT") if k in os.environ}
    plugins = tuple(dict.fromkeys(plugin_loader.loaded() + tuple(suite.plugins)))
    in_process = getattr(executor, "in_process", False)
    total = sum(len(c) for c in todo)
    reported: set[str] = set()
    bar = None

    def cell_done(relpath: str, record: dict, seconds: float) -> None:
        if relpath in reported:
            return
        reported.add(relpath)
        logger.info("[%d/%d] %s", len(reported), total, cell_line(relpath, record, seconds))
        if bar is not None:
            bar.update(1)
    held: dict[str, Claim] = {}
    sizes: dict[str, int] = {}
    report = SweepReport(cells=len(suite.cells()), skipped=skipped, computed=0, seconds=0.0)

    def claimed_jobs():
        # Claimed one at a time as the executor asks for jobs (the local executor asks when it is
        # ready for the next, so two processes interleave; Ray asks for all of them at once).
        deferred = []
        for second_pass, groups in ((False, todo), (True, deferred)):
            for cells in groups:
                gid = group_id(cells)
                claim = try_claim(claims / f"{gid}.claim")
                if claim is None:
                    owner = describe(read_owner(claims / f"{gid}.claim"))
                    if second_pass:
                        report.left.extend(c.relpath() for c in cells)
                        report.holders.append(f"{gid} ({len(cells)} cells, {owner})")
                    else:
                        log(f"{gid} ({len(cells)} cells) is being computed by {owner}; leaving it to that process")
                        deferred.append(cells)
                    continue
                if claim.took_over:
                    log(f"{gid}: took over the claim of {describe(claim.took_over)}, which is gone or silent")
                held[gid], sizes[gid] = claim, len(cells)
                yield GroupJob(cells=cells, store_root=str(store.root), device=device, progress=progress, env=env,
                               group_id=gid, plugins=plugins, threads=threads,
                               on_cell=cell_done if in_process else None)

    if progress:
        from tqdm.auto import tqdm

        # smoothing=0: the ETA is (time so far / cells done) x cells left, over whole groups, not
        # the last cell's rate (a group's first cell also trains its trajectory).
        bar = tqdm(total=total, desc=f"suite {suite.name}", unit="cell", smoothing=0)
    try:
        for gid, written, seconds, reused in executor.map(run_claimed_group, claimed_jobs()):
            for i, (relpath, record) in enumerate(written):
                if not store.done(relpath, record["key"]):  # a remote worker's store may not be ours
                    store.write(relpath, record)
                cell_done(relpath, record, seconds[i] if i < len(seconds) else float("nan"))
            held.pop(gid).release()  # only now: its records are in the store
            report.computed += len(written)
            report.from_cache += len(reused)
            report.stored_meanwhile += sizes[gid] - len(written)  # run_group skips cells stored since the plan
    finally:
        for claim in held.values():
            claim.release()
        if bar is not None:
            bar.close()
    if report.left:
        log(f"left {len(report.left)} cells to other processes: {'; '.join(report.holders)}; they write those "
            "records and, when they finish, the tables (or re-run this command then)")
    report.seconds = time.perf_counter() - start
    return report
