"""Hugging Face Hub access: detect offline use early and fail with one line, not a 27 s retry.

Example:
    >>> import os; os.environ["HF_HUB_OFFLINE"] = "1"
    >>> hub_offline()
    True
"""

from __future__ import annotations

import os
import socket

from .errors import OfflineError

_TRUE = {"1", "true", "yes", "on"}
_probe_result: bool | None = None


def hub_offline() -> bool:
    """True when the Hub is unreachable (offline env flags, or a 2 s connection probe fails)."""
    global _probe_result
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return True
    if _probe_result is None:
        try:
            with socket.create_connection(("huggingface.co", 443), timeout=2):
                _probe_result = False
        except OSError:
            _probe_result = True
    return _probe_result


def require_hub(what: str) -> None:
    """Raise ``OfflineError`` naming the offline tasks if ``what`` cannot be fetched."""
    if not hub_offline():
        return
    from .tasks import TASKS

    offline = ", ".join(n for n, t in TASKS if t.source == "offline")
    raise OfflineError(
        f"cannot reach the Hugging Face Hub to fetch {what}; use an offline task ({offline}) "
        "or run on a machine with network (and HF_HUB_OFFLINE unset)"
    )
