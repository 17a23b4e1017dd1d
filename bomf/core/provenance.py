r"""Where a number came from: package versions, git commit, hardware.

``git_dirty`` says whether the code that ran differs from ``git_commit``: a modified, staged or
untracked file among the code paths (``CODE_PATHS``: the package, the baselines, the suites,
``run_all.py``, ``pyproject.toml``; results, docs and tests do not change a number). The
changed files are listed in ``git_dirty_files`` (at most ``MAX_LISTED``), so a table can mark
cells from uncommitted code and a reader can see which files they came from.

Example:
    >>> sorted(provenance())[:4]
    ['git_commit', 'git_dirty', 'git_dirty_files', 'hardware']
    >>> dirty_files(" M bomf/cli.py\n?? baselines/new.py\n")
    ['baselines/new.py', 'bomf/cli.py']
"""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache
from importlib import metadata

from .paths import REPO_ROOT

PACKAGES = ("bomf", "torch", "transformers", "botorch", "gpytorch", "smac", "peft", "numpy", "scikit-learn")
CODE_PATHS = ("bomf", "baselines", "benchmarks/suites", "run_all.py", "pyproject.toml")
MAX_LISTED = 20


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str, strip: bool = True) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() if strip else out.stdout


def dirty_files(porcelain: str) -> list[str]:
    """The paths of ``git status --porcelain`` output, sorted (renames: the new path)."""
    paths = {line[3:].split(" -> ")[-1].strip().strip('"') for line in porcelain.splitlines() if len(line) > 3}
    return sorted(p for p in paths if not p.endswith("__pycache__/") and not p.endswith(".pyc"))


def provenance() -> dict:
    """Versions, git state (looked up once per process) and the hardware as it is now (the
    torch thread count can change within a process, and changes CPU reductions' rounding)."""
    import torch

    hardware = {"machine": platform.machine(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    return {**_code_provenance(), "hardware": hardware}


@lru_cache(maxsize=1)
def _code_provenance() -> dict:
    status = _git("status", "--porcelain", "--untracked-files=all", "--", *CODE_PATHS, strip=False)
    changed = dirty_files(status) if status is not None else None
    return {
        "versions": {p: _version(p) for p in PACKAGES},
        "python": platform.python_version(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(changed) if changed is not None else None,
        "git_dirty_files": changed[:MAX_LISTED] if changed is not None else None,
    }
