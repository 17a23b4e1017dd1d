"""Atomic writes: a reader sees the old file or the complete new one, never a partial one.

Every file bomf writes goes through here: write to a temporary file in the same folder,
flush and fsync, then ``os.replace`` (atomic on POSIX). A write that fails (permission denied,
disk full, read-only filesystem) removes its temporary file and raises ``UnwritableError``: one
line naming the file, the reason and the fix, which the CLI prints with exit status 2.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.json"
    >>> write_json(p, {"a": 1}); read_json(p)
    {'a': 1}
    >>> describe_os_error(OSError(28, "No space left on device", "/x/y"), "write")
    'cannot write /x/y (No space left on device); free space there or point BOMF_CACHE / BOMF_RESULTS at another disk'
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import BomfError
from .paths import UnwritableError

_FIX = {
    errno.ENOSPC: "free space there or point BOMF_CACHE / BOMF_RESULTS at another disk",
    errno.EDQUOT: "free space there or point BOMF_CACHE / BOMF_RESULTS at another disk",
    errno.EACCES: "fix its permissions or point BOMF_CACHE / BOMF_RESULTS at a writable folder",
    errno.EPERM: "fix its permissions or point BOMF_CACHE / BOMF_RESULTS at a writable folder",
    errno.EROFS: "point BOMF_CACHE / BOMF_RESULTS at a writable filesystem",
}


def describe_os_error(exc: OSError, action: str = "use", path: str | os.PathLike | None = None) -> str:
    """One line for a failed file operation: what, where, why, and the fix."""
    where = exc.filename if exc.filename is not None else path
    reason = exc.strerror or str(exc) or type(exc).__name__
    fix = _FIX.get(exc.errno, "check that the folder exists and is writable (BOMF_CACHE, BOMF_RESULTS say where "
                              "bomf writes)")
    return f"cannot {action} {where if where is not None else 'a file'} ({reason}); {fix}"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it into place."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UnwritableError(f"cannot write in folder {path.parent} ({exc.strerror or type(exc).__name__}); "
                              "choose a writable location (BOMF_RESULTS, BOMF_CACHE) or fix its permissions") from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except OSError as exc:  # disk full, quota, permissions changed meanwhile: nothing half-written stays
        raise UnwritableError(describe_os_error(exc, "write", path)) from exc
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BomfError(f"{path} is not valid JSON ({exc.msg}); delete it to recompute") from exc
