"""Safe checkpoint files: safetensors for our own, ``torch.load(weights_only=True)`` otherwise.

Loading checks what a fusion needs to trust: the file is complete, its tensors match the
expected names and shapes (same architecture), and every value is finite.

Example:
    >>> import tempfile, torch, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.safetensors"
    >>> save_state(p, {"w": torch.ones(2)}, {"step": "3"})
    >>> load_state(p)["w"].tolist()
    [1.0, 1.0]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..core.atomic import atomic_path
from ..core.errors import CheckpointError


def save_state(path: str | os.PathLike, state: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> None:
    """Write a state dict atomically as safetensors (tied tensors are stored as copies)."""
    # safetensors refuses tensors that share storage (tied embeddings); copies are cheap and simple.
    seen: set[int] = set()
    tensors = {}
    for name, tensor in state.items():
        t = tensor.detach().to("cpu").contiguous()
        ptr = t.untyped_storage().data_ptr()
        tensors[name] = t.clone() if ptr in seen else t
        seen.add(ptr)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=dict(metadata or {}))


def load_state(path: str | os.PathLike, expected: Mapping[str, torch.Tensor] | None = None,
               check_finite: bool = True) -> dict[str, torch.Tensor]:
    """Load and validate a checkpoint.

    ``expected`` (e.g. a live model's ``state_dict()``) fixes the names and shapes the file must
    hold. Raises ``CheckpointError`` with a one-line message naming the file and the fix.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} is missing; delete its trajectory folder to retrain")
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
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
