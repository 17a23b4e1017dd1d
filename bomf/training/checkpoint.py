"""Safe checkpoint files: safetensors for our own, ``torch.load(weights_only=True)`` otherwise.

Loading checks what a fusion needs to trust: the file is complete, its tensors hash to the
content digest written with them (``bomf_sha256`` in the safetensors metadata; a caller may
also pass the digest it recorded, e.g. a trajectory's ``trajectory.json``), they match the
expected names and shapes (same architecture), and every value is finite. A member whose bytes
changed on disk is refused in one line instead of being fused into results.

Example:
    >>> import tempfile, torch, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.safetensors"
    >>> digest = save_state(p, {"w": torch.ones(2)}, {"step": "3"})
    >>> load_state(p, digest=digest)["w"].tolist()
    [1.0, 1.0]
    >>> load_state(p, digest="0" * 64)
    Traceback (most recent call last):
    ...
    bomf.core.errors.CheckpointError: checkpoint ... does not hold the tensors recorded for it (content hash ..., expected 000000000000); it changed on disk after it was written: delete its trajectory folder to retrain
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path
from typing import Mapping

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..core.atomic import atomic_path
from ..core.errors import CheckpointError

DIGEST_KEY = "bomf_sha256"


def state_digest(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes (in name order)."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().to("cpu").contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())  # the buffer itself, no copy
    return h.hexdigest()


def save_state(path: str | os.PathLike, state: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> str:
    """Write a state dict atomically as safetensors (tied tensors are stored as copies); return
    its content digest, which is also stored in the file's metadata."""
    # safetensors refuses tensors that share storage (tied embeddings); copies are cheap and simple.
    seen: set[int] = set()
    tensors = {}
    for name, tensor in state.items():
        t = tensor.detach().to("cpu").contiguous()
        ptr = t.untyped_storage().data_ptr()
        tensors[name] = t.clone() if ptr in seen else t
        seen.add(ptr)
    digest = state_digest(tensors)
    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp), metadata={**dict(metadata or {}), DIGEST_KEY: digest})
        except SafetensorError as exc:  # safetensors reports a failed write (e.g. disk full) as its own error
            text = str(exc)
            code = errno.ENOSPC if "os error 28" in text else errno.EIO
            raise OSError(code, os.strerror(code) if code == errno.ENOSPC else text, str(path)) from exc
    return digest


def load_state(path: str | os.PathLike, expected: Mapping[str, torch.Tensor] | None = None,
               check_finite: bool = True, digest: str | None = None) -> dict[str, torch.Tensor]:
    """Load and validate a checkpoint.

    ``expected`` (e.g. a live model's ``state_dict()``) fixes the names and shapes the file must
    hold; ``digest`` the content digest it must hash to (besides the one in its own metadata).
    Raises ``CheckpointError`` with a one-line message naming the file and the fix.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} is missing; delete its trajectory folder to retrain")
    stored = None
    try:
        if path.suffix == ".safetensors":
            with safe_open(str(path), framework="pt") as fh:
                stored = (fh.metadata() or {}).get(DIGEST_KEY)
                state = {name: fh.get_tensor(name) for name in fh.keys()}
        else:
            # Anything not ours may be a pickle: weights_only refuses code execution.
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except (SafetensorError, OSError, RuntimeError, EOFError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} is corrupt or unsafe ({msg}); delete it to recompute") from exc
    except Exception as exc:  # unpickling errors come in many types
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} could not be loaded safely ({msg}); delete it to recompute") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a state dict; delete it")
    wanted = [d for d in (stored, digest) if d is not None]
    if wanted:
        actual = state_digest(state)
        for d in wanted:
            if actual != d:
                raise CheckpointError(
                    f"checkpoint {path} does not hold the tensors recorded for it (content hash {actual[:12]}, "
                    f"expected {d[:12]}); it changed on disk after it was written: delete its trajectory folder to retrain")
    if expected is not None:
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing or unexpected:
            raise CheckpointError(
                f"checkpoint {path} is of another architecture (missing {missing[:2]}, unexpected {unexpected[:2]}); "
                "use members of the same model"
            )
        for name, ref in expected.items():
            if tuple(state[name].shape) != tuple(ref.shape):
                raise CheckpointError(
                    f"checkpoint {path}: tensor {name} has shape {tuple(state[name].shape)}, expected "
                    f"{tuple(ref.shape)}; use members of the same model"
                )
    if check_finite:
        for name, tensor in state.items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise CheckpointError(f"checkpoint {path}: tensor {name} holds NaN or inf; drop this member or retrain")
    return state
