"""Hugging Face Hub access: detect offline use early and fail with one line.

Without this, ``datasets``/``transformers`` retry the Hub for tens of seconds and then raise a
multi-line connection error that does not say what to do. ``require_hub`` answers in at most
~2 s with one line that names the offline tasks.

Example (``...`` stands for the other offline tasks):
    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, HF_HUB_OFFLINE="1"):
    ...     hub_offline()
    True
    >>> with mock.patch.dict(os.environ, HF_HUB_OFFLINE="1"):
    ...     require_hub("glue/rte", ["aclsum-qnli", "rt-polarity"])
    Traceback (most recent call last):
    ...
    bomf.core.errors.OfflineError: cannot reach the Hugging Face Hub to fetch glue/rte; use an offline task (...rt-polarity...) or set HF_HUB_OFFLINE=0 on a machine with network
"""

from __future__ import annotations

import os
import socket
from typing import Sequence

from .errors import OfflineError

# The flags Hugging Face libraries themselves honour; TRANSFORMERS_OFFLINE too, because model
# loading (bomf.models) asks the same question.
OFFLINE_FLAGS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
_TRUE = {"1", "true", "yes", "on"}
PROBE_HOST, PROBE_PORT, PROBE_TIMEOUT_S = "huggingface.co", 443, 2.0

# The probe costs up to 2 s, so its answer is kept for the life of the process.
_probe_result: bool | None = None


def hub_offline() -> bool:
    """True when the Hub is unreachable: an offline flag is set, or a 2 s TCP probe fails."""
    global _probe_result
    # Flags first: an explicit offline request must never wait on the network.
    if any(os.environ.get(var, "").strip().lower() in _TRUE for var in OFFLINE_FLAGS):
        return True
    if _probe_result is None:
        try:
            with socket.create_connection((PROBE_HOST, PROBE_PORT), timeout=PROBE_TIMEOUT_S):
                _probe_result = False
        except OSError:  # DNS failure, refused, timeout: all mean "no Hub"
            _probe_result = True
    return _probe_result


def require_hub(what: str, offline_tasks: Sequence[str] = ()) -> None:
    """Raise a one-line ``OfflineError`` if ``what`` cannot be fetched, naming ``offline_tasks``
    (the caller's offline alternatives: this module sits below the task registry)."""
    if not hub_offline():
        return
    offline = ", ".join(offline_tasks) or "none registered"
    raise OfflineError(
        f"cannot reach the Hugging Face Hub to fetch {what}; use an offline task ({offline}) "
        "or set HF_HUB_OFFLINE=0 on a machine with network"
    )
