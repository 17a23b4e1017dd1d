"""Promote your run of a suite to the committed reference (``bomf promote SUITE``).

The reference's records of the suite are replaced by yours, all at once: yours are copied into
a temporary folder beside the reference's ``runs/``, which is then swapped in, so a kill leaves
either the old reference or the new one. Only a complete run is promoted: every cell of the
suite must be stored with its current configuration. The CLI then rebuilds the reference's
tables and plots from the new records; review ``git diff --stat results/reference/`` and commit.

Example:
    >>> import tempfile
    >>> from bomf.harness.store import ResultStore, example_record
    >>> yours, ref = ResultStore(tempfile.mkdtemp()), ResultStore(tempfile.mkdtemp())
    >>> yours.write("s/t/m/default/last/seed0.json", example_record(key="new"))
    >>> ref.write("s/t/m/default/old/seed0.json", example_record(key="old"))
    >>> replace_runs("s", yours, ref), [r["key"] for r in ref.records("s")]
    (1, ['new'])
"""

from __future__ import annotations

import os
import shutil

from ..core.errors import BomfError
from .store import ResultStore


def replace_runs(suite: str, source: ResultStore, target: ResultStore) -> int:
    """Make ``target``'s records of ``suite`` a copy of ``source``'s; return how many."""
    src = source.suite_folder(suite)
    records = source.records(suite)
    if not records:
        raise BomfError(f"no records of suite '{suite}' under {src}; run it first (bomf run {suite})")
    dst = target.suite_folder(suite)
    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = dst.with_name(f".runs-promote-{os.getpid()}")
    old = dst.with_name(f".runs-old-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(src, staging, ignore=shutil.ignore_patterns(".*"))  # no claims or temporary files
        if dst.exists():
            os.replace(dst, old)
        os.replace(staging, dst)
    except OSError as exc:
        if old.exists() and not dst.exists():
            os.replace(old, dst)  # put the previous reference back
        raise BomfError(f"cannot write the reference {dst} ({exc.strerror or type(exc).__name__}); "
                        "check its permissions and free space") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return len(records)
