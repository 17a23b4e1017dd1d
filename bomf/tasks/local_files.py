"""Local copies of Hub datasets: ``<dir>/<dataset>/<split>.jsonl`` rows in the Hub schema.

Tests use small fixtures this way, and users without a network can point a task family's
environment variable (``$BOMF_GLUE_DIR``, ``$BOMF_HUB_DATA_DIR``) at their own copy.

Example:
    >>> import json, tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "train.jsonl").write_text(json.dumps({"x": 1}) + "\\n")
    >>> read_jsonl_splits(root, "BOMF_HUB_DATA_DIR")
    {'train': [{'x': 1}]}
"""

from __future__ import annotations

import json
from pathlib import Path

from ..core.errors import BomfError


def read_jsonl_splits(root: Path, env_var: str) -> dict[str, list[dict]]:
    """Every ``<split>.jsonl`` under ``root`` as a list of rows, by split name."""
    files = sorted(root.glob("*.jsonl"))
    if not files:
        raise BomfError(f"no files {root}/<split>.jsonl; fix ${env_var} or unset it to use the Hub")
    out = {}
    for path in files:
        with open(path, encoding="utf-8") as fh:
            out[path.stem] = [json.loads(line) for line in fh if line.strip()]
    return out
