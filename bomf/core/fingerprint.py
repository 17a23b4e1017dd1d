"""Content keys and fingerprints: one home for "a hash of what determines a result".

- ``content_key(identity)``: the 16-hex-digit key of a JSON identity (trajectories, fusions,
  stage-1 journals); the same identity gives the same key in every process.
- ``files_digest(folder, patterns)``: a digest of the named files' names and bytes (model
  weights, tokenizers), computed once per process and then answered from memory, so a sweep
  of many cells hashes 90 MB of weights once, not once per cell.

Example:
    >>> content_key({"b": [1, 2], "a": "x"}) == content_key({"a": "x", "b": (1, 2)})
    True
    >>> len(content_key({"a": 1}))
    16
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

_DIGESTS: dict[tuple, str] = {}


def canonical_json(obj: Any) -> str:
    """The identity as JSON with sorted keys (tuples as lists; other objects by ``str``)."""
    return json.dumps(obj, sort_keys=True, default=str, ensure_ascii=False, allow_nan=True)


def content_key(identity: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:length]


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def files_digest(folder: str | os.PathLike, patterns: Iterable[str], exclude: Iterable[str] = ()) -> str:
    """A digest of the top-level files of ``folder`` matching ``patterns`` (names and bytes).

    Memoised per process by (folder, patterns, each file's size and mtime): a file replaced
    while the process runs is hashed again.
    """
    folder = Path(folder)
    patterns, exclude = tuple(patterns), tuple(exclude)
    names = sorted(p.name for p in folder.iterdir() if p.is_file()
                   and any(fnmatch.fnmatch(p.name, pat) for pat in patterns)
                   and not any(fnmatch.fnmatch(p.name, pat) for pat in exclude))
    stats = tuple((n, (folder / n).stat().st_size, (folder / n).stat().st_mtime_ns) for n in names)
    memo = (str(folder.resolve()), patterns, exclude, stats)
    if memo not in _DIGESTS:
        h = hashlib.sha256()
        for name in names:
            h.update(f"{name}\0{file_digest(folder / name)}\n".encode())
        _DIGESTS[memo] = h.hexdigest()
    return _DIGESTS[memo]
