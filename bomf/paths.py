"""Where bomf keeps things: the cache (data, trajectories) and the results store.

The cache lives under the user's cache directory, never in the repository:
``$BOMF_CACHE`` if set, else ``$XDG_CACHE_HOME/bomf``, else ``~/.cache/bomf``.

Example:
    >>> import os; os.environ["BOMF_CACHE"] = "/tmp/bomf-cache"
    >>> str(cache_dir("data"))
    '/tmp/bomf-cache/data'
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_root() -> Path:
    if os.environ.get("BOMF_CACHE"):
        return Path(os.environ["BOMF_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bomf"


def cache_dir(*parts: str) -> Path:
    """A sub-folder of the cache root (not created).

    Downloaded data may live elsewhere (``$BOMF_DATA_CACHE``): it is immutable and worth
    sharing between a user's cache and a test run's throw-away cache.
    """
    if parts and parts[0] == "data" and os.environ.get("BOMF_DATA_CACHE"):
        return Path(os.environ["BOMF_DATA_CACHE"]).expanduser().joinpath(*parts[1:])
    return cache_root().joinpath(*parts)


def results_root() -> Path:
    return Path(os.environ.get("BOMF_RESULTS", REPO_ROOT / "results"))
