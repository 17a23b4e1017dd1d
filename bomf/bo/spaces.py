"""Search spaces over fusion weights: where BO's points live and how they become weights.

A point ``x`` of a space maps to fusion weights ``w`` on the simplex (non-negative, sum 1).

- ``cube`` (the paper's): ``x`` in ``[0, 1]^K``, ``w = x / sum(x)``; the GP models ``x``.
  Many ``x`` give one ``w`` (a ray), which a stationary GP over ``x`` cannot know, and the
  acquisition optimiser (L-BFGS-B) stops on the cube's faces (``x_k`` = 0 or 1) for most
  coordinates, so most suggestions are uniform soups of a subset of members.
- ``cube_w``: the same cube and optimiser, but the GP models ``w = x / sum(x)`` (an input
  transform): one GP input per fusion, so the surrogate knows the rays.
- ``simplex``: ``x = w`` itself; the acquisition is optimised on the simplex (SLSQP with the
  equality ``sum(w) = 1``, started from the best of Dirichlet samples), the GP models ``w``,
  and the initial design is a Sobol sequence mapped to uniform points of the simplex.

Example:
    >>> space = get_space("simplex")
    >>> x = space.initial_design(3, 4, seed=0)
    >>> tuple(x.shape), bool(torch.allclose(x.sum(-1), torch.ones(3, dtype=torch.double)))
    ((3, 4), True)
    >>> get_space("cube").weights([0.5, 1.0, 0.5])
    [0.25, 0.5, 0.25]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import torch
from botorch.optim import optimize_acqf
from botorch.optim.initializers import initialize_q_batch
from torch.quasirandom import SobolEngine

SpaceName = Literal["cube", "cube_w", "simplex"]
SPACES: tuple[str, ...] = ("cube", "cube_w", "simplex")
FACE_TOL = 1e-9  # a coordinate this close to a bound counts as on the face (SLSQP lands within rounding)


def sobol_points(n: int, dim: int, seed: int) -> torch.Tensor:
    """``n`` scrambled Sobol points in [0,1]^dim (float64), deterministic in ``seed``.

    Example:
        >>> a = sobol_points(4, 3, seed=0)
        >>> tuple(a.shape), a.dtype, bool(torch.equal(a, sobol_points(4, 3, seed=0)))
        ((4, 3), torch.float64, True)
    """
    if n <= 0:
        return torch.empty(0, dim, dtype=torch.double)
    return SobolEngine(dim, scramble=True, seed=seed).draw(n).to(torch.double)


def unit_bounds(dim: int) -> torch.Tensor:
    return torch.stack([torch.zeros(dim, dtype=torch.double), torch.ones(dim, dtype=torch.double)])


def cube_to_simplex(u: torch.Tensor) -> torch.Tensor:
    """Uniform points of the cube -> uniform points of the simplex (normalised exponentials)."""
    e = -torch.log1p(-u.clamp(0.0, 1.0 - 1e-12))
    return e / e.sum(-1, keepdim=True).clamp_min(1e-300)


@dataclass(frozen=True)
class SearchSpace:
    name: str

    @property
    def gp_inputs(self) -> str:
        """What the GP sees: the point itself (``normalize``) or its weights (``simplex``)."""
        return "simplex" if self.name == "cube_w" else "normalize"

    def weights(self, x: Sequence[float]) -> list[float]:
        """Fusion weights of a point: non-negative, summing to 1."""
        v = [max(float(a), 0.0) for a in x]
        total = sum(v)
        if total <= 0:
            return [1.0 / len(v)] * len(v)
        return [a / total for a in v]

    def initial_design(self, n: int, k: int, seed: int) -> torch.Tensor:
        u = sobol_points(n, k, seed)
        return cube_to_simplex(u) if self.name == "simplex" else u

    def random_points(self, q: int, k: int, seed: int) -> torch.Tensor:
        """Seeded uniform points of the space (the fallback when no GP can be used)."""
        u = torch.rand(q, k, generator=torch.Generator().manual_seed(seed), dtype=torch.double)
        return cube_to_simplex(u) if self.name == "simplex" else u

    def on_faces(self, x: Sequence[float]) -> float:
        """Share of the point's coordinates on a face of its domain (0 or 1 in the cube; 0 on the simplex)."""
        v = [float(a) for a in x]
        if self.name == "simplex":
            return sum(a <= FACE_TOL for a in v) / len(v)
        return sum(a <= FACE_TOL or a >= 1.0 - FACE_TOL for a in v) / len(v)

    def optimise(self, acq, k: int, num_restarts: int, raw_samples: int, seed: int, q: int = 1) -> torch.Tensor:
        """The best ``q x k`` point(s) of ``acq`` found from ``num_restarts`` starts."""
        bounds = unit_bounds(k)
        if self.name != "simplex":
            x, _ = optimize_acqf(acq, bounds=bounds, q=q, num_restarts=num_restarts, raw_samples=raw_samples,
                                 options={"seed": seed}, sequential=q > 1)
            return x.detach()
        # Starts: Dirichlet(1) samples (uniform on the simplex), the best by acquisition value
        # chosen by BoTorch's Boltzmann rule, then SLSQP under sum(w) = 1.
        g = torch.Generator().manual_seed(seed)
        raw = cube_to_simplex(torch.rand(raw_samples, q, k, generator=g, dtype=torch.double))
        with torch.no_grad():
            values = torch.cat([acq(chunk) for chunk in raw.split(256)])
        starts = initialize_q_batch(raw, values, n=min(num_restarts, raw_samples))[0]
        eq = [(torch.arange(k), torch.ones(k, dtype=torch.double), 1.0)]
        x, _ = optimize_acqf(acq, bounds=bounds, q=q, num_restarts=len(starts), batch_initial_conditions=starts,
                             equality_constraints=eq, options={"seed": seed})
        x = x.detach().clamp_min(0.0)
        return x / x.sum(-1, keepdim=True)


def get_space(name: str) -> SearchSpace:
    if name not in SPACES:
        raise ValueError(f"unknown search space {name!r}; use one of {', '.join(SPACES)}")
    return SearchSpace(name)


__all__ = ["SPACES", "SearchSpace", "SpaceName", "cube_to_simplex", "get_space", "sobol_points", "unit_bounds"]
