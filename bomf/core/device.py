"""Device and precision choice: CUDA with bf16 autocast when present, else CPU in fp32.

Example:
    >>> acc = make_accelerator("cpu")
    >>> str(acc.device), acc.mixed_precision
    ('cpu', 'no')
    >>> compute_identity("cpu")
    {'device': 'cpu', 'precision': 'no'}
"""

from __future__ import annotations

import resource

import torch


def resolve_device(device: str = "auto") -> str:
    """"auto" -> "cuda" when a GPU is present, else "cpu"; other names pass through."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def compute_identity(device: str = "auto") -> dict:
    """Where a result is computed, as far as it changes the numbers: the device kind and the
    precision ``make_accelerator`` would use there (part of every trajectory's cache key)."""
    kind = resolve_device(device).split(":")[0]
    if kind == "cuda":
        return {"device": "cuda", "precision": "bf16" if torch.cuda.is_bf16_supported() else "no"}
    return {"device": kind, "precision": "no"}


def make_accelerator(device: str = "auto"):
    """An ``accelerate.Accelerator`` for ``device`` in {"auto", "cpu", "cuda"}."""
    from accelerate import Accelerator

    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda:
        bf16 = torch.cuda.is_bf16_supported()
        return Accelerator(mixed_precision="bf16" if bf16 else "no")
    return Accelerator(cpu=True, mixed_precision="no")


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    """Peak GPU memory since the last reset, or the process's peak RSS on CPU (never reset)."""
    if device.type == "cuda":
        return {"peak_gpu_mb": torch.cuda.max_memory_allocated(device) / 2**20}
    # ru_maxrss is in KiB on Linux; it is the whole process's high-water mark.
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
