"""The checkpoint pool: K members loaded once, fused into one live model in place.

Every BO step re-weights the same K members, so they are read from disk once and kept
(memory ~ (K + 1) x model size); ``fuse(w)`` overwrites the live model's tensors with
``sum_k w_k theta_k`` using fused multi-tensor ops, no new model is allocated.
Only floating-point tensors are fused (integer buffers such as ``position_ids`` are shared);
``select`` restricts fusion to some tensors (PEFT: adapter tensors only).

Example:
    >>> import torch
    >>> live = torch.nn.Linear(2, 1, bias=False)
    >>> a, b = {"weight": torch.tensor([[1.0, 0.0]])}, {"weight": torch.tensor([[0.0, 4.0]])}
    >>> pool = CheckpointPool(live, [a, b])
    >>> _ = pool.fuse([0.25, 0.75]); live.weight.tolist()
    [[0.25, 3.0]]
"""

from __future__ import annotations

import os
from typing import Callable, Mapping, Sequence

import torch

from ..core.errors import BomfError


def tensor_key(t: torch.Tensor) -> tuple:
    """Identity of the memory a tensor views: tied names share it, distinct views do not."""
    return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride())


class CheckpointPool:
    def __init__(self, model: torch.nn.Module, members: Sequence[Mapping[str, torch.Tensor]],
                 select: Callable[[str], bool] | None = None, dtype: torch.dtype | None = None,
                 swa_file: str | os.PathLike | None = None):
        if not members:
            raise BomfError("a checkpoint pool needs at least one member")
        self.model = model
        live = model.state_dict()
        # Tied tensors (T5's shared/encoder/decoder embeddings, a tied LM head) appear under several
        # names with one storage: fuse each storage once, or it would receive the sum K times over.
        seen: set[tuple] = set()
        names = []
        for n, t in live.items():
            if t.is_floating_point() and (select is None or select(n)) and t.numel() and tensor_key(t) not in seen:
                seen.add(tensor_key(t))
                names.append(n)
        if not names:
            raise BomfError("no tensor of the model is selected for fusion; check the pool's select rule")
        device = next(model.parameters()).device
        self.names = names
        # state_dict() tensors share storage with the parameters: writing them updates the model.
        self._targets = [live[n] for n in names]
        self._members: list[list[torch.Tensor]] = []
        for k, state in enumerate(members):
            missing = [n for n in names if n not in state]
            if missing:
                raise BomfError(f"member {k} lacks tensor {missing[0]}; all members must come from one model")
            tensors = []
            for n, target in zip(names, self._targets):
                t = state[n]
                if t.shape != target.shape:
                    raise BomfError(f"member {k}: tensor {n} has shape {tuple(t.shape)}, the model {tuple(target.shape)}")
                tensors.append(t.to(device=device, dtype=dtype or target.dtype))
            self._members.append(tensors)
        self.last_weights: tuple[float, ...] | None = None
        # The trajectory's SWA average, for the ``swa`` baseline; fusion itself never reads it.
        self.swa_file = swa_file

    @property
    def size(self) -> int:
        """K, the number of members."""
        return len(self._members)

    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        return dict(zip(self.names, self._members[k]))

    def member_tensors(self, k: int) -> list[torch.Tensor]:
        """Member ``k``'s fused tensors, in the order of ``names`` (read-only by convention)."""
        return self._members[k]

    @torch.no_grad()
    def fuse(self, weights: Sequence[float]) -> torch.nn.Module:
        """Write ``sum_k weights[k] * member_k`` into the live model and return it."""
        w = [float(x) for x in weights]
        if len(w) != self.size:
            raise BomfError(f"got {len(w)} fusion weights for a pool of {self.size} members")
        if tuple(w) == self.last_weights:
            return self.model
        torch._foreach_zero_(self._targets)
        for wk, tensors in zip(w, self._members):
            if wk != 0.0:
                torch._foreach_add_(self._targets, tensors, alpha=wk)
        self.last_weights = tuple(w)
        return self.model

    @torch.no_grad()
    def load_state(self, state: Mapping[str, torch.Tensor]) -> torch.nn.Module:
        """Put an arbitrary state (e.g. the SWA average) into the live model."""
        for n, target in zip(self.names, self._targets):
            target.copy_(state[n])
        self.last_weights = None
        return self.model
