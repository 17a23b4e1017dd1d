"""The checkpoint pool: K members held as one matrix, fused into one live model in place.

Every BO step re-weights the same K members. The pool copies them once into one contiguous
K x P matrix (P = the number of fused values) and re-points the live model's fused tensors at
views into one flat buffer of P values, so ``fuse(w)`` is a single matrix-vector product written
straight into the model: one pass over the members (K x P reads, P writes), no temporaries, no
copy afterwards. Memory: the K x P matrix plus the live model, ~(K + 1) x the fused tensors.
Fused values are ``w @ M`` exactly as BLAS sums them: within a few float32 ulps of a
tensor-by-tensor weighted sum, and one-hot weights reproduce a member bit for bit.

Only floating-point tensors are fused (integer buffers such as ``position_ids`` are shared);
``select`` restricts fusion to some tensors (PEFT: adapter tensors only). Tied tensors (one
storage under several names) are fused once and stay tied. Tensors of different dtypes or
devices form separate groups (one matrix and one flat buffer each); ``dtype`` sets the
members' storage dtype (default: the live tensor's), the product is cast into the live dtype.

Members are read once each, in order: a lazy sequence that loads a member on access keeps only
one state dict on hand while the matrix is filled.

Example:
    >>> import torch
    >>> live = torch.nn.Linear(2, 1, bias=False)
    >>> a, b = {"weight": torch.tensor([[1.0, 0.0]])}, {"weight": torch.tensor([[0.0, 4.0]])}
    >>> pool = CheckpointPool(live, [a, b])
    >>> _ = pool.fuse([0.25, 0.75]); live.weight.tolist()
    [[0.25, 3.0]]
    >>> pool.member_state(1)["weight"].tolist(), pool.memory()["members_bytes"]
    ([[0.0, 4.0]], 16)
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import torch

from ..core.errors import BomfError


def tensor_key(t: torch.Tensor) -> tuple:
    """Identity of the memory a tensor views: tied names share it, distinct views do not."""
    return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride())


@dataclass
class _Group:
    """Fused tensors of one (device, live dtype, member dtype): a flat live buffer and the K x P members."""

    flat: torch.Tensor  # the live values; the model's tensors are views into it
    matrix: torch.Tensor  # [K, P] members, row k = member k flattened in slot order
    names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Slot:
    group: int
    offset: int
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


def _holders(model: torch.nn.Module) -> dict[tuple, list[tuple[torch.nn.Module, str, bool]]]:
    """Every (module, attribute, is_parameter) that holds a tensor, grouped by the memory it views."""
    out: dict[tuple, list] = defaultdict(list)
    for module in model.modules():
        for attr, t in module._parameters.items():
            if t is not None:
                out[tensor_key(t)].append((module, attr, True))
        for attr, t in module._buffers.items():
            if t is not None:
                out[tensor_key(t)].append((module, attr, False))
    return out


class LazyStates(Sequence):
    """A sequence of state dicts loaded on access (``loaders[k]()``), so a pool filling its matrix
    holds one member's state at a time instead of all K.

    Example:
        >>> states = LazyStates([lambda: {"w": torch.zeros(1)}, lambda: {"w": torch.ones(1)}])
        >>> len(states), states[1]["w"].item()
        (2, 1.0)
    """

    def __init__(self, loaders: Sequence[Callable[[], Mapping[str, torch.Tensor]]]):
        self._loaders = list(loaders)

    def __len__(self) -> int:
        return len(self._loaders)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return LazyStates(self._loaders[k])
        return self._loaders[k]()


class CheckpointPool:
    def __init__(self, model: torch.nn.Module, members: Sequence[Mapping[str, torch.Tensor]],
                 select: Callable[[str], bool] | None = None, dtype: torch.dtype | None = None,
                 swa_file: str | os.PathLike | None = None):
        if len(members) == 0:
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
        self.names = names
        k_members = len(members)
        holders = _holders(model)

        # Lay the fused tensors out group by group: slot = (group, offset, shape).
        group_of: dict[tuple, int] = {}
        sizes: list[int] = []
        layout: list[tuple] = []
        self._slots: dict[str, _Slot] = {}
        for n in names:
            t = live[n]
            gk = (t.device, t.dtype, dtype or t.dtype)
            if gk not in group_of:
                group_of[gk] = len(sizes)
                sizes.append(0)
                layout.append(gk)
            g = group_of[gk]
            self._slots[n] = _Slot(g, sizes[g], tuple(t.shape))
            sizes[g] += t.numel()
        self._groups: list[_Group] = []
        self._copies: list[tuple[torch.Tensor, torch.Tensor]] = []
        for (device, live_dtype, member_dtype), size in zip(layout, sizes):
            self._groups.append(_Group(flat=torch.empty(size, dtype=live_dtype, device=device),
                                       matrix=torch.empty(k_members, size, dtype=member_dtype, device=device)))

        # Re-point the live tensors at the flat buffers (values kept): the model then reads the fused
        # weights where fuse() writes them. Every holder of a tied tensor is re-pointed, so ties hold.
        with torch.no_grad():
            for n in names:
                slot, t = self._slots[n], live[n]
                group = self._groups[slot.group]
                group.names.append(n)
                view = group.flat[slot.offset:slot.offset + slot.numel].view(slot.shape)
                view.copy_(t)
                for module, attr, is_param in holders.get(tensor_key(t), ()):
                    if is_param:
                        module._parameters[attr].data = view
                    else:
                        module._buffers[attr] = view
                if tensor_key(t) not in holders:
                    # Made by a state_dict hook, not held by a module: copied into after each fusion.
                    self._copies.append((view, t))

            for k in range(k_members):
                state = members[k]  # read once: a lazy sequence loads one member at a time
                for n in names:
                    if n not in state:
                        raise BomfError(f"member {k} lacks tensor {n}; all members must come from one model")
                    t, slot = state[n], self._slots[n]
                    if tuple(t.shape) != slot.shape:
                        raise BomfError(f"member {k}: tensor {n} has shape {tuple(t.shape)}, the model {slot.shape}")
                    self._groups[slot.group].matrix[k, slot.offset:slot.offset + slot.numel].copy_(t.reshape(-1))
                del state
        self._size = k_members
        self.last_weights: tuple[float, ...] | None = None
        # The trajectory's SWA average, for the ``swa`` baseline; fusion itself never reads it.
        self.swa_file = swa_file

    @property
    def size(self) -> int:
        """K, the number of members."""
        return self._size

    def _member_view(self, k: int, name: str) -> torch.Tensor:
        slot = self._slots[name]
        return self._groups[slot.group].matrix[k, slot.offset:slot.offset + slot.numel].view(slot.shape)

    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        """Member ``k``'s fused tensors by name (views into the pool: read-only by convention)."""
        return {n: self._member_view(k, n) for n in self.names}

    def member_tensors(self, k: int) -> list[torch.Tensor]:
        """Member ``k``'s fused tensors, in the order of ``names`` (read-only by convention)."""
        return [self._member_view(k, n) for n in self.names]

    def memory(self) -> dict[str, int]:
        """Bytes held: the members' matrix, the live fused tensors, and their size as one model's worth."""
        members = sum(g.matrix.numel() * g.matrix.element_size() for g in self._groups)
        fused = sum(g.flat.numel() * g.flat.element_size() for g in self._groups)
        return {"members_bytes": members, "live_fused_bytes": fused, "fused_values": sum(g.flat.numel() for g in self._groups)}

    @torch.no_grad()
    def fuse(self, weights: Sequence[float]) -> torch.nn.Module:
        """Write ``sum_k weights[k] * member_k`` into the live model and return it."""
        w = [float(x) for x in weights]
        if len(w) != self.size:
            raise BomfError(f"got {len(w)} fusion weights for a pool of {self.size} members")
        if tuple(w) == self.last_weights:
            return self.model
        for g in self._groups:
            wt = torch.tensor(w, dtype=g.matrix.dtype, device=g.matrix.device)
            if g.matrix.dtype == g.flat.dtype:
                torch.mv(g.matrix.t(), wt, out=g.flat)  # the single pass: flat = M^T w
            else:
                g.flat.copy_(torch.mv(g.matrix.t(), wt))
        for view, target in self._copies:
            target.copy_(view)
        self.last_weights = tuple(w)
        return self.model

    def fused_tensors(self, weights: torch.Tensor) -> dict[str, torch.Tensor]:
        """``sum_k weights[k] * member_k`` as new tensors by name, differentiable in ``weights``
        (one product per group; learned soups pass these to ``torch.func.functional_call``)."""
        out = {}
        for g in self._groups:
            flat = weights.to(g.matrix.dtype) @ g.matrix
            for n in g.names:
                slot = self._slots[n]
                out[n] = flat[slot.offset:slot.offset + slot.numel].view(slot.shape).to(g.flat.dtype)
        return {n: out[n] for n in self.names}

    @torch.no_grad()
    def weights_gradient(self, grads: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """dL/dw for the fusion ``sum_k w_k * member_k``, given dL/dtheta by tensor name: ``M dL/dtheta``.

        One matrix-vector product per group over a flat copy of the gradients (a name missing from
        ``grads`` counts as zero). Going through autograd instead would run a backward per fused
        tensor view, each filling a zero tensor of the whole flat buffer.

        Example:
            >>> pool = CheckpointPool(torch.nn.Linear(2, 1, bias=False), [{"weight": torch.tensor([[1.0, 0.0]])},
            ...                                                          {"weight": torch.tensor([[0.0, 2.0]])}])
            >>> pool.weights_gradient({"weight": torch.tensor([[3.0, 1.0]])}).tolist()
            [3.0, 2.0]
        """
        out = torch.zeros(self.size, dtype=torch.float64)
        for g in self._groups:
            flat = torch.zeros(g.matrix.shape[1], dtype=g.matrix.dtype, device=g.matrix.device)
            for n in g.names:
                if n in grads:
                    slot = self._slots[n]
                    flat[slot.offset:slot.offset + slot.numel].copy_(grads[n].reshape(-1))
            out += torch.mv(g.matrix, flat).double().cpu()
        return out

    @torch.no_grad()
    def load_state(self, state: Mapping[str, torch.Tensor]) -> torch.nn.Module:
        """Put an arbitrary state (e.g. the SWA average) into the live model."""
        for n in self.names:
            slot = self._slots[n]
            self._groups[slot.group].flat[slot.offset:slot.offset + slot.numel].view(slot.shape).copy_(state[n])
        for view, target in self._copies:
            target.copy_(view)
        self.last_weights = None
        return self.model
