"""Where a number came from: package versions, git commit, hardware.

Example:
    >>> sorted(provenance())[:3]
    ['git_commit', 'git_dirty', 'hardware']
"""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache
from importlib import metadata

from .paths import REPO_ROOT

PACKAGES = ("bomf", "torch", "transformers", "botorch", "gpytorch", "smac", "peft", "numpy", "scikit-learn")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@lru_cache(maxsize=1)
def provenance() -> dict:
    import torch

    hardware = {"machine": platform.machine(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "versions": {p: _version(p) for p in PACKAGES},
        "python": platform.python_version(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "hardware": hardware,
    }
