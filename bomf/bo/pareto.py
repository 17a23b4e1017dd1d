"""Pareto fronts, hypervolume, and objective normalisation (all objectives maximised).

Example:
    >>> import torch
    >>> Y = torch.tensor([[1.0, 2.0], [2.0, 1.0], [0.5, 0.5]], dtype=torch.double)
    >>> pareto_mask(Y).tolist()
    [True, True, False]
    >>> hypervolume(Y, torch.zeros(2, dtype=torch.double))
    3.0
"""

from __future__ import annotations

import torch
from botorch.utils.multi_objective.hypervolume import Hypervolume
from botorch.utils.multi_objective.pareto import is_non_dominated

SPAN_FLOOR = 1e-9


def pareto_mask(Y: torch.Tensor) -> torch.Tensor:
    """True for the non-dominated rows of ``Y`` (duplicates of a front point are all kept)."""
    return is_non_dominated(Y, deduplicate=False)


def hypervolume(Y: torch.Tensor, ref_point: torch.Tensor) -> float:
    """Volume dominated by the points of ``Y`` that dominate ``ref_point`` (0.0 if none does)."""
    Y = Y.to(torch.double)
    ref = ref_point.to(torch.double)
    keep = (Y > ref).all(dim=-1)
    if not keep.any():
        return 0.0
    front = Y[keep]
    front = front[pareto_mask(front)]
    return float(Hypervolume(ref_point=ref).compute(front))


def normalise_objectives(Y_reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-objective (min, max) over reference evaluations (e.g. the members' own).

    A span below ``SPAN_FLOOR`` is widened around its centre so scaling never divides by zero.
    """
    lo = Y_reference.min(dim=0).values.to(torch.double)
    hi = Y_reference.max(dim=0).values.to(torch.double)
    narrow = (hi - lo) < SPAN_FLOOR
    centre = (hi + lo) / 2
    lo = torch.where(narrow, centre - SPAN_FLOOR / 2, lo)
    hi = torch.where(narrow, centre + SPAN_FLOOR / 2, hi)
    return lo, hi


def apply_normalisation(Y: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    return (Y.to(torch.double) - lo) / (hi - lo)


def reference_point(Y_norm_reference: torch.Tensor, margin: float = 0.1) -> torch.Tensor:
    """Just below the worst reference point in every (normalised) objective."""
    return Y_norm_reference.min(dim=0).values.to(torch.double) - margin
