"""Device and precision: where a run computes, at which precision, and the errors a GPU user meets.

- ``resolve_device``: "auto" -> "cuda" when a GPU is visible, else "cpu"; "cuda" without a GPU
  is a one-line ``DeviceError`` (never a silent CPU run).
- ``resolve_precision``: "auto" -> bf16 autocast on a CUDA GPU that runs bf16 natively, float32
  elsewhere; a GPU without bf16 falls back to float32 and says so (``Precision.fallback``, which
  records carry). bf16 may also be asked for on a CPU (``torch.autocast("cpu")``): that is how
  the bf16 path is tested without a GPU. Weights (members, pool, SWA) stay float32 either way:
  autocast lowers only the matrix products.
- ``make_accelerator``: the ``accelerate.Accelerator`` of a device and precision (training).
- ``torch_threads``: run a block with n torch threads (restored after), e.g. BO numerics on one.
- ``explain_out_of_memory``: turns CUDA's out-of-memory error into one line naming the batch
  size to lower and where to set it.

Example:
    >>> acc = make_accelerator("cpu")
    >>> str(acc.device), acc.mixed_precision
    ('cpu', 'no')
    >>> resolve_precision("cpu"), resolve_precision("cpu", "bf16").name
    (Precision(name='fp32', fallback=None), 'bf16')
    >>> with torch_threads(2):
    ...     compute_identity("cpu"), compute_identity("cpu", "bf16")
    ({'device': 'cpu', 'precision': 'no', 'threads': 2}, {'device': 'cpu', 'precision': 'bf16', 'threads': 2})
"""

from __future__ import annotations

import resource
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch

from .errors import BomfError

PRECISIONS = ("auto", "fp32", "bf16")


class DeviceError(BomfError):
    """A device or precision that this machine cannot provide."""


class DeviceOutOfMemoryError(BomfError):
    """The GPU ran out of memory; the message names the batch size to lower."""


def _cuda_unavailable_reason() -> str:
    if torch.version.cuda is None:
        return f"this torch ({torch.__version__}) is a CPU-only build"
    return f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU (driver, CUDA_VISIBLE_DEVICES?)"


def resolve_device(device: str = "auto") -> str:
    """"auto" -> "cuda" when a GPU is present, else "cpu"; "cuda"/"cuda:N" must exist.

    Raises ``DeviceError`` (one line) for a CUDA device this process cannot see, and for names
    that are not devices.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {device}: no CUDA GPU is available ({_cuda_unavailable_reason()}); "
                              "use --device cpu, or --device auto to take a GPU only when there is one")
        index = torch.device(device).index
        if index is not None and index >= torch.cuda.device_count():
            raise DeviceError(f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s), "
                              f"numbered 0..{torch.cuda.device_count() - 1}")
        return device
    raise DeviceError(f"unknown device {device!r}; use auto, cpu or cuda")


@dataclass(frozen=True)
class Precision:
    """The precision a run computes at: "bf16" (autocast) or "fp32", and why, if not as asked."""

    name: str
    fallback: str | None = None  # set when the run asked for bf16 and got float32: the reason

    @property
    def mixed_precision(self) -> str:
        """accelerate's name: "bf16" or "no"."""
        return "bf16" if self.name == "bf16" else "no"

    def autocast(self, device: str | torch.device):
        """The autocast context of this precision on ``device`` (a no-op for fp32)."""
        kind = torch.device(device).type
        return torch.autocast(device_type=kind, dtype=torch.bfloat16, enabled=self.name == "bf16")


def _bf16_native(device: str) -> bool:
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # older torch without the argument
        return bool(torch.cuda.is_bf16_supported())


def resolve_precision(device: str, requested: str | None = "auto") -> Precision:
    """The precision of a run on the (resolved) ``device``.

    ``requested``: "auto" (bf16 on a CUDA GPU with native bf16, else fp32), "fp32", "bf16", or
    accelerate's names "no" / "bf16" (what a trajectory records). A CUDA GPU without native
    bf16 (pre-Ampere: V100, T4) gets fp32 with ``fallback`` saying so; a CPU runs bf16 when asked.
    """
    requested = {"no": "fp32", None: "auto"}.get(requested, requested)
    if requested not in PRECISIONS:
        raise DeviceError(f"unknown precision {requested!r}; use auto, fp32 or bf16")
    cuda = torch.device(device).type == "cuda"
    if requested == "fp32" or (requested == "auto" and not cuda):
        return Precision("fp32")
    if cuda and not _bf16_native(device):
        name = torch.cuda.get_device_name(torch.device(device))
        cc = ".".join(map(str, torch.cuda.get_device_capability(torch.device(device))))
        return Precision("fp32", fallback=f"{name} (compute capability {cc}) has no native bf16: float32 instead")
    return Precision("bf16")


def compute_identity(device: str = "auto", precision: str | None = "auto") -> dict:
    """Where a result is computed, as far as it changes the numbers: the device kind, the
    precision actually used there (accelerate's names, "bf16" or "no") and, on a CPU, the torch
    thread count, as a cache key holds it.

    Why the threads: a CPU matrix product splits its sums by thread, so 1 and 2 threads differ in
    the last bits, and training makes that a different trajectory (measured: MiniLM trained with
    1 and with 2 threads ends with different weights and val metrics). The count is this
    process's at the time of the call, so a key must be taken where (or as) the computation runs;
    the harness plans under the thread count its workers use (``bomf.harness.run``). On a GPU the
    numerics do not use CPU threads, so the count is left out.
    """
    device = resolve_device(device)
    kind = torch.device(device).type
    out = {"device": kind, "precision": resolve_precision(device, precision).mixed_precision}
    if kind == "cpu":
        out["threads"] = torch.get_num_threads()
    return out


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch threads (None: as it is), restoring the count after.

    BO numerics run on one thread (on 2 cores, two threads slow down 3-10x under any
    contention); the harness plans and runs a group with its workers' count.
    """
    old = torch.get_num_threads()
    if n is not None and n != old:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)


def say_fallback(precision: Precision, what: str) -> None:
    """One line on stderr when a run computes at another precision than asked (records say it too)."""
    if precision.fallback:
        print(f"bomf: {what}: {precision.fallback}", file=sys.stderr, flush=True)


def make_accelerator(device: str = "auto", precision: Precision | str | None = "auto"):
    """An ``accelerate.Accelerator`` for ``device`` ("auto", "cpu", "cuda") at ``precision``."""
    from accelerate import Accelerator

    device = resolve_device(device)
    if not isinstance(precision, Precision):
        precision = resolve_precision(device, precision)
    kwargs = {"mixed_precision": precision.mixed_precision}
    if torch.device(device).type != "cuda":
        kwargs["cpu"] = True
    try:
        return Accelerator(**kwargs)
    except ValueError as exc:
        if "already been initialized" not in str(exc):
            raise
        # accelerate keeps one process-wide state and refuses another precision or device in the
        # same process (a bf16 trajectory after an fp32 one); each trajectory owns its accelerator.
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state(reset_partial_state=True)
        return Accelerator(**kwargs)


def is_out_of_memory(exc: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom)


@contextmanager
def explain_out_of_memory(stage: str, setting: str, value: object, where: str) -> Iterator[None]:
    """Turn a CUDA out-of-memory error inside the block into one line: what ran out, the batch
    size to lower (``setting`` = ``value`` now) and ``where`` to set it."""
    try:
        yield
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "out of memory"
        raise DeviceOutOfMemoryError(f"GPU out of memory while {stage} at {setting} {value}: lower it ({where}); "
                                     f"torch said: {first[:160]}") from None


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    """Peak GPU memory since the last reset, or the process's peak RSS on CPU (never reset)."""
    if device.type == "cuda":
        return {"peak_gpu_mb": torch.cuda.max_memory_allocated(device) / 2**20}
    # ru_maxrss is in KiB on Linux; it is the whole process's high-water mark.
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
