"""GP-BO suggestions with BoTorch: multi-objective (qLogNEHVI) and single-objective (qLogEI).

Pure functions over float64 tensors; every objective is maximised. Inputs are normalised
(``Normalize``) and outcomes standardised (``Standardize``) inside each GP. The caller's global
RNG is left untouched (``torch.random.fork_rng``) and the same inputs and seed give the same
suggestion on CPU. Thread settings are the caller's business: nothing global is changed.

Degenerate data never stops a search: rows with a non-finite outcome are left out of the fit
(with a warning), and when no GP can be fitted (no rows, constant outcomes, a numerical failure)
a seeded uniform random point is returned with one ``RuntimeWarning``.

Example:
    >>> import torch
    >>> X = sobol_points(6, 2, seed=0)
    >>> y = -((X - 0.3) ** 2).sum(-1)
    >>> x = suggest_single_objective(X, y, seed=0, num_restarts=2, raw_samples=32)
    >>> tuple(x.shape), x.dtype, bool(((0 <= x) & (x <= 1)).all())
    ((1, 2), torch.float64, True)
    >>> torch.equal(x, suggest_single_objective(X, y, seed=0, num_restarts=2, raw_samples=32))
    True
"""

from __future__ import annotations

import warnings

import torch
from botorch.acquisition.logei import qLogExpectedImprovement
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from botorch.optim import optimize_acqf
from botorch.sampling import SobolQMCNormalSampler
from gpytorch.mlls import ExactMarginalLogLikelihood, SumMarginalLogLikelihood
from torch.quasirandom import SobolEngine

# 128 MC samples double the acquisition cost for no visible gain at q = 1.
MC_SAMPLES = 64


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


def _unit_bounds(dim: int) -> torch.Tensor:
    return torch.stack([torch.zeros(dim, dtype=torch.double), torch.ones(dim, dtype=torch.double)])


def _check_and_clean(X: torch.Tensor, Y: torch.Tensor, bounds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 copies with non-finite outcome rows dropped; shape errors raise (they are bugs).

    Validation happens outside the fallback so that a caller's mistake is not hidden behind
    a random suggestion.
    """
    if X.dim() != 2 or Y.dim() != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"expected X: n x d and outcomes with n rows, got {tuple(X.shape)} and {tuple(Y.shape)}")
    if bounds.shape != (2, X.shape[1]):
        raise ValueError(f"bounds must be 2 x {X.shape[1]}, got {tuple(bounds.shape)}")
    X, Y = X.detach().to(torch.double), Y.detach().to(torch.double)
    finite = torch.isfinite(Y).all(dim=-1) & torch.isfinite(X).all(dim=-1)
    if not finite.all():
        warnings.warn(f"{int((~finite).sum())} of {len(finite)} evaluations are not finite; "
                      "they are left out of the GP fit", RuntimeWarning, stacklevel=3)
        X, Y = X[finite], Y[finite]
    return X, Y


def _gp(X: torch.Tensor, y: torch.Tensor, bounds: torch.Tensor) -> SingleTaskGP:
    return SingleTaskGP(X, y.reshape(-1, 1), input_transform=Normalize(X.shape[-1], bounds=bounds),
                        outcome_transform=Standardize(m=1))


def _fallback(dim: int, q: int, seed: int, why: str, bounds: torch.Tensor) -> torch.Tensor:
    warnings.warn(f"GP suggestion failed ({why}); using a seeded random point", RuntimeWarning, stacklevel=3)
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(q, dim, generator=g, dtype=torch.double)
    return bounds[0] + u * (bounds[1] - bounds[0])


def _no_signal(Y: torch.Tensor) -> bool:
    # No rows, or every objective constant: a GP has nothing to model and the acquisition
    # optimum degenerates to an arbitrary corner of the cube.
    return Y.shape[0] == 0 or bool((Y.max(dim=0).values == Y.min(dim=0).values).all())


def _suggest(X: torch.Tensor, Y: torch.Tensor, bounds: torch.Tensor, seed: int, q: int, num_restarts: int,
             raw_samples: int, make_acquisition) -> torch.Tensor:
    """Validate, then fit and optimise ``make_acquisition(X, Y, sampler)`` under a fixed seed.

    Everything that can fail numerically sits inside the guard, which falls back to a seeded
    random point: one bad fit must not end a long search.
    """
    X, Y = _check_and_clean(X, Y, bounds)
    if _no_signal(Y):
        return _fallback(X.shape[-1], q, seed, "no rows or constant outcomes", bounds)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        try:
            # BoTorch's numerical and optimiser warnings are routine over a long search.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sampler = SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=seed)
                acq = make_acquisition(X, Y, sampler)
                candidate, _ = optimize_acqf(acq, bounds=bounds, q=q, num_restarts=num_restarts,
                                             raw_samples=raw_samples, options={"seed": seed})
        except Exception as exc:
            return _fallback(X.shape[-1], q, seed, f"{type(exc).__name__}: {exc}", bounds)
    return candidate.detach()


def suggest_multi_objective(X: torch.Tensor, Y: torch.Tensor, ref_point: torch.Tensor, seed: int,
                            num_restarts: int = 10, raw_samples: int = 512, q: int = 1) -> torch.Tensor:
    """The next ``q x d`` points in the unit cube by qLogNEHVI over one GP per objective.

    ``X`` is ``n x d`` in [0,1]^d, ``Y`` is ``n x m`` (maximised) and ``ref_point`` has ``m``
    entries in the units of ``Y``.

    Example:
        >>> import torch
        >>> X = sobol_points(6, 2, seed=0)
        >>> Y = torch.stack([-(X - 0.2).pow(2).sum(-1), -(X - 0.8).pow(2).sum(-1)], -1)
        >>> x = suggest_multi_objective(X, Y, Y.min(0).values - 0.1, seed=0, num_restarts=2, raw_samples=32)
        >>> tuple(x.shape)
        (1, 2)
    """
    bounds = _unit_bounds(X.shape[-1])

    def make_acquisition(X, Y, sampler):
        model = ModelListGP(*[_gp(X, Y[:, i], bounds) for i in range(Y.shape[-1])])
        fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
        return qLogNoisyExpectedHypervolumeImprovement(
            model=model, ref_point=ref_point.to(torch.double).tolist(), X_baseline=X, prune_baseline=True,
            sampler=sampler)

    return _suggest(X, Y, bounds, seed, q, num_restarts, raw_samples, make_acquisition)


def suggest_single_objective(X: torch.Tensor, y: torch.Tensor, seed: int, num_restarts: int = 10,
                             raw_samples: int = 512, q: int = 1, bounds: torch.Tensor | None = None) -> torch.Tensor:
    """The next ``q x d`` points within ``bounds`` (default unit cube) by qLogEI, maximising ``y``.

    ``y`` is ``n`` or ``n x 1``; ``bounds`` is ``2 x d`` (lower row, upper row).

    Example:
        >>> import torch
        >>> X = sobol_points(5, 2, seed=1)
        >>> x = suggest_single_objective(X, X.sum(-1), seed=0, num_restarts=2, raw_samples=32)
        >>> tuple(x.shape)
        (1, 2)
    """
    bounds = _unit_bounds(X.shape[-1]) if bounds is None else bounds.to(torch.double)

    def make_acquisition(X, y, sampler):
        model = _gp(X, y, bounds)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        return qLogExpectedImprovement(model=model, best_f=y.max(), sampler=sampler)

    return _suggest(X, y.reshape(-1, 1), bounds, seed, q, num_restarts, raw_samples, make_acquisition)
