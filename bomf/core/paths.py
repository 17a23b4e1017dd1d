"""Where bomf keeps things: the cache (data, trajectories), your results, and the reference.

- The cache lives under the user's cache directory, never in the repository or an installed
  package: ``$BOMF_CACHE`` if set, else ``$XDG_CACHE_HOME/bomf``, else ``~/.cache/bomf``.
- Your runs (records, tables, plots) go to ``$BOMF_RESULTS``, else ``./bomf-results`` in the
  working directory (ignored by git in a clone).
- The committed reference results are ``results/reference/`` of a clone (``$BOMF_REFERENCE`` to
  compare with another folder; an installed bomf looks in ``./results/reference``). Both use one layout: ``<root>/<suite>/{runs,tables,plots}``.

``check_writable`` proves a folder can be written before a sweep computes anything.

Example:
    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, BOMF_CACHE="/tmp/bomf-cache"):
    ...     str(cache_dir("trajectories")), check_writable(cache_root(), "cache", "BOMF_CACHE") == cache_root()
    ('/tmp/bomf-cache/trajectories', True)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import BomfError

REPO_ROOT = Path(__file__).resolve().parents[2]


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
    """Where a user's runs go: ``$BOMF_RESULTS``, else ``./bomf-results``."""
    return Path(os.environ.get("BOMF_RESULTS") or Path.cwd() / "bomf-results").expanduser()


def reference_root() -> Path:
    """The committed reference results: ``$BOMF_REFERENCE``, else ``results/reference`` of the clone
    bomf runs from, else of the working directory (an installed bomf run inside a clone)."""
    if os.environ.get("BOMF_REFERENCE"):
        return Path(os.environ["BOMF_REFERENCE"]).expanduser()
    candidates = [Path.cwd() / "results" / "reference"]
    if (REPO_ROOT / "pyproject.toml").is_file():  # bomf runs from a clone (editable): its own references first
        candidates.insert(0, REPO_ROOT / "results" / "reference")
    # None there: name the working directory's (an installed bomf never looks under site-packages).
    return next((c for c in candidates if c.is_dir()), candidates[-1])


class UnwritableError(BomfError):
    """A folder bomf must write to cannot be created or written."""


def check_writable(folder: str | os.PathLike, what: str, variable: str) -> Path:
    """Create ``folder`` if needed and write (then delete) a probe file in it.

    A real write rather than ``os.access``: that answers yes for root on a read-only mount and
    ignores ACLs. Raises ``UnwritableError`` (one line: the folder, the reason, the fix).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".bomf-write-check-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UnwritableError(f"cannot write the {what} folder {folder} ({reason}); "
                              f"set {variable} to a writable folder or fix its permissions") from exc
    return folder
