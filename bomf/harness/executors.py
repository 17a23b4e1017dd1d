"""Executors run independent jobs (one per trajectory group): locally, or as Ray tasks.

``local`` runs jobs one after another in this process, or with ``jobs=N`` side by side in N
worker processes on this machine, each with its share of the CPU cores (torch threads =
cores // N) and, when there is one, the same GPU: one cell's BO numerics run on a CPU core
while another cell's evaluations use the GPU, so a GPU that one cell at a time leaves idle
during its BO steps is kept busy. Jobs are handed out one at a time as workers free up, so
group claims are taken as late as with one process. ``ray`` submits each job as a Ray task
(``num_gpus`` per task when GPUs are present) to a local Ray instance or to a cluster given by
``address`` (``ray start --head`` on one machine, ``ray start --address HEAD:6379`` on the others).
A job carries its plugins (``GroupJob.plugins``), so Ray workers know the tasks, models and
methods the driver knows; ``in_process`` says whether a job can call the driver back while it
runs (per-cell progress), which only the local executor with one job at a time can.

Example:
    >>> list(get_executor("local").map(lambda x: x * 2, [1, 2]))
    [2, 4]
    >>> sorted(get_executor("local", jobs=2).map(abs, [-1, -2, -3]))
    [1, 2, 3]
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, Iterator

from ..core.errors import BomfError


def _worker_setup(threads: int) -> None:
    """A side-by-side worker: its share of the cores (BO steps use one thread anyway)."""
    import torch

    torch.set_num_threads(threads)


class LocalExecutor:
    """Jobs in this process one after another, or ``jobs`` at a time in worker processes."""

    name = "local"

    def __init__(self, jobs: int = 1, threads_per_job: int | None = None):
        if jobs < 1:
            raise BomfError(f"--jobs must be at least 1, got {jobs}")
        self.jobs = jobs
        self.threads_per_job = threads_per_job or max(1, (os.cpu_count() or 1) // jobs)

    @property
    def threads(self) -> int:
        """The torch thread count each job computes with (it enters CPU cache keys): this
        process's with one job at a time, else each worker's share of the cores."""
        if self.jobs == 1:
            import torch

            return torch.get_num_threads()
        return self.threads_per_job

    @property
    def in_process(self) -> bool:
        """Jobs call the driver back per cell only when they run in this process (``jobs == 1``);
        worker processes report their cells when their group returns."""
        return self.jobs == 1

    def map(self, fn: Callable, jobs: Iterable) -> Iterator:
        if self.jobs == 1:
            for job in jobs:
                yield fn(job)
            return
        yield from self._map_side_by_side(fn, iter(jobs))

    def _map_side_by_side(self, fn: Callable, jobs: Iterator) -> Iterator:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        # spawn, not fork: a forked child of a process that has touched CUDA cannot use the GPU.
        pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_setup, initargs=(self.threads_per_job,))
        pending: set = set()
        try:
            for job in jobs:  # the next job (and its claim) only when a worker is free
                pending.add(pool.submit(fn, job))
                if len(pending) >= self.jobs:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Each job a Ray task; results come back in completion order."""

    name = "ray"
    in_process = False

    def __init__(self, address: str | None = None, num_cpus_per_job: float = 1, num_gpus_per_job: float | None = None):
        try:
            import ray
        except ImportError as exc:
            raise BomfError("the ray executor needs Ray; pip install -e '.[ray]'") from exc
        self.ray = ray
        self.address = address
        self.num_cpus_per_job, self.num_gpus_per_job = num_cpus_per_job, num_gpus_per_job
        # Each task computes with this many torch threads (run_group sets it): it enters CPU cache
        # keys, so the driver plans with the count its workers use, whatever Ray's OMP default.
        self.threads = max(1, int(num_cpus_per_job))

    def _options(self) -> dict:
        """Connects to Ray (only when there are jobs: a dry run starts nothing)."""
        ray = self.ray
        if not ray.is_initialized():
            ray.init(address=self.address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
        gpus = self.num_gpus_per_job
        if gpus is None:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        return {"num_cpus": self.num_cpus_per_job, "num_gpus": gpus}

    def map(self, fn: Callable, jobs: Iterable) -> Iterator:
        jobs = list(jobs)
        if not jobs:
            return
        remote = self.ray.remote(**self._options())(fn)
        pending = [remote.remote(job) for job in jobs]
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            yield self.ray.get(done[0])


def get_executor(name: str, **kwargs):
    if name == "local":
        return LocalExecutor(**kwargs)
    if name == "ray":
        return RayExecutor(**kwargs)
    raise BomfError(f"unknown executor {name!r}; use local or ray")
