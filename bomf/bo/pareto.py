"""Pareto fronts, hypervolume, and objective normalisation (all objectives maximised).

Example:
    >>> import torch
    >>> Y = torch.tensor([[1.0, 2.0], [2.0, 1.0], [0.5, 0.5]], dtype=torch.double)
    >>> pareto_mask(Y).tolist()
    [True, True, False]
    >>> hypervolume(Y, torch.zeros(2, dtype=torch.double))
    3.0
    >>> lo, hi = normalise_objectives(Y[:2])  # the first two rows are the 'members'
    >>> apply_normalisation(Y, lo, hi).tolist()
    [[0.0, 1.0], [1.0, 0.0], [-0.5, -0.5]]
    >>> reference_point(apply_normalisation(Y[:2], lo, hi)).tolist()
    [-0.1, -0.1]
"""

from __future__ import annotations

import torch
from botorch.utils.multi_objective.hypervolume import Hypervolume
from botorch.utils.multi_objective.pareto import is_non_dominated

SPAN_FLOOR = 1e-9


def pareto_mask(Y: torch.Tensor) -> torch.Tensor:
    """True for the non-dominated rows of ``Y`` (``n x m``, maximised).

    Exact duplicates of a front point are all kept (so a re-evaluated point stays on the
    front); rows containing NaN count as dominated.

    Example:
        >>> import torch
        >>> pareto_mask(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.5, -1.0]])).tolist()
        [True, True, False]
    """
    return is_non_dominated(Y, deduplicate=False)


def hypervolume(Y: torch.Tensor, ref_point: torch.Tensor) -> float:
    """Volume dominated by the rows of ``Y`` that strictly dominate ``ref_point`` (0.0 if none).

    Example:
        >>> import torch
        >>> hypervolume(torch.tensor([[1.0, 2.0], [2.0, 1.0], [5.0, -1.0]]), torch.zeros(2))
        3.0
    """
    Y = Y.to(torch.double)
    ref = ref_point.to(Y)
    # botorch's Hypervolume assumes every point dominates the reference; points that do not
    # add no volume, and NaN rows fail the comparison, so both are dropped here.
    keep = (Y > ref).all(dim=-1)
    if not keep.any():
        return 0.0
    front = Y[keep]
    front = front[is_non_dominated(front, deduplicate=True)]
    return float(Hypervolume(ref_point=ref).compute(front))


def normalise_objectives(Y_members: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-objective ``(lo, hi)`` = (min, max) over reference evaluations ``k x m``.

    The reference is typically the fusion members' own evaluations. A span below
    ``SPAN_FLOOR`` is widened to ``SPAN_FLOOR`` around its centre so that
    :func:`apply_normalisation` never divides by zero.

    Example:
        >>> import torch
        >>> lo, hi = normalise_objectives(torch.tensor([[0.8, 1.0], [0.9, 1.0]], dtype=torch.double))
        >>> lo.tolist()[0], hi.tolist()[0], float(hi[1] - lo[1]) >= 1e-9
        (0.8, 0.9, True)
    """
    Y_members = Y_members.to(torch.double)
    lo = Y_members.min(dim=0).values
    hi = Y_members.max(dim=0).values
    narrow = (hi - lo) < SPAN_FLOOR
    centre = (hi + lo) / 2
    lo = torch.where(narrow, centre - SPAN_FLOOR / 2, lo)
    hi = torch.where(narrow, centre + SPAN_FLOOR / 2, hi)
    return lo, hi


def apply_normalisation(Y: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """``(Y - lo) / (hi - lo)`` in float64: the reference evaluations land in [0, 1].

    Example:
        >>> import torch
        >>> apply_normalisation(torch.tensor([[2.0]]), torch.tensor([1.0]), torch.tensor([3.0])).tolist()
        [[0.5]]
    """
    Y = Y.to(torch.double)
    return (Y - lo.to(Y)) / (hi.to(Y) - lo.to(Y))


def reference_point(Y_norm_members: torch.Tensor, margin: float = 0.1) -> torch.Tensor:
    """Per objective, the worst (normalised) member minus ``margin``: just below every member.

    Example:
        >>> import torch
        >>> reference_point(torch.tensor([[0.0, 1.0], [1.0, 0.5]]), margin=0.25).tolist()
        [-0.25, 0.25]
    """
    return Y_norm_members.to(torch.double).min(dim=0).values - margin
