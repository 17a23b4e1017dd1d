"""Matplotlib without a display, and figures written atomically (shared by every plot).

Example:
    >>> import tempfile, pathlib
    >>> plt = pyplot()
    >>> fig, ax = plt.subplots()
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.png"
    >>> save_figure(fig, path); path.read_bytes()[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

from pathlib import Path

from ..core.atomic import atomic_path


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed; imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    """Write a PNG atomically (a concurrent reader never sees half a PNG) with fixed metadata."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", metadata={"Software": None})
    pyplot().close(fig)
