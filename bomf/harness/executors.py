"""Executors run independent jobs (one per trajectory group): locally, or as Ray tasks.

``local`` runs jobs one after another in this process. ``ray`` submits each job as a Ray task
(``num_gpus`` per task when GPUs are present) to a local Ray instance or to a cluster given by
``address`` (``ray start --head`` on one machine, ``ray start --address HEAD:6379`` on the others).
A job carries its plugins (``GroupJob.plugins``), so Ray workers know the tasks, models and
methods the driver knows; ``in_process`` says whether a job can call the driver back while it
runs (per-cell progress), which only the local executor can.

Example:
    >>> list(get_executor("local").map(lambda x: x * 2, [1, 2]))
    [2, 4]
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from ..core.errors import BomfError


class LocalExecutor:
    name = "local"
    in_process = True

    def map(self, fn: Callable, jobs: Iterable) -> Iterator:
        for job in jobs:
            yield fn(job)


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
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
        if num_gpus_per_job is None:
            num_gpus_per_job = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        self.options = {"num_cpus": num_cpus_per_job, "num_gpus": num_gpus_per_job}

    def map(self, fn: Callable, jobs: Iterable) -> Iterator:
        remote = self.ray.remote(**self.options)(fn)
        pending = [remote.remote(job) for job in jobs]
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            yield self.ray.get(done[0])


def get_executor(name: str, **kwargs):
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(**kwargs)
    raise BomfError(f"unknown executor {name!r}; use local or ray")
