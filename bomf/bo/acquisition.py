"""GP-BO suggestions with BoTorch: multi-objective (qLogNEHVI) and single-objective (qLogEI).

Pure functions over tensors in the unit cube; every objective is maximised. Inputs are
normalised (``Normalize``) and outcomes standardised (``Standardize``) inside each GP. The
caller's global RNG is left untouched (``fork_rng``) and the same inputs and seed give the same
suggestion on CPU. If GP fitting fails (degenerate data), a seeded random point is returned
with a warning rather than stopping a long search.

Example:
    >>> import torch
    >>> X = sobol_points(6, 2, seed=0)
    >>> y = -((X - 0.3) ** 2).sum(-1)
    >>> x = suggest_single_objective(X, y, seed=0, num_restarts=2, raw_samples=32)
    >>> tuple(x.shape)
    (1, 2)
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

MC_SAMPLES = 64  # 128 doubles the acquisition cost for no visible gain at q = 1


def sobol_points(n: int, dim: int, seed: int) -> torch.Tensor:
    """``n`` scrambled Sobol points in [0,1]^dim, deterministic in ``seed``."""
    if n <= 0:
        return torch.empty(0, dim, dtype=torch.double)
    return SobolEngine(dim, scramble=True, seed=seed).draw(n).to(torch.double)


def _unit_bounds(dim: int) -> torch.Tensor:
    return torch.stack([torch.zeros(dim, dtype=torch.double), torch.ones(dim, dtype=torch.double)])


def _gp(X: torch.Tensor, y: torch.Tensor, bounds: torch.Tensor) -> SingleTaskGP:
    return SingleTaskGP(X, y.reshape(-1, 1), input_transform=Normalize(X.shape[-1], bounds=bounds),
                        outcome_transform=Standardize(m=1))


def _fallback(dim: int, q: int, seed: int, why: Exception, bounds: torch.Tensor) -> torch.Tensor:
    warnings.warn(f"GP suggestion failed ({type(why).__name__}: {why}); using a random point", RuntimeWarning)
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(q, dim, generator=g, dtype=torch.double)
    return bounds[0] + u * (bounds[1] - bounds[0])


def suggest_multi_objective(X: torch.Tensor, Y: torch.Tensor, ref_point: torch.Tensor, seed: int,
                            num_restarts: int = 10, raw_samples: int = 512, q: int = 1) -> torch.Tensor:
    """The next ``q`` points by qLogNEHVI over one GP per objective (a ``ModelListGP``)."""
    X, Y = X.to(torch.double), Y.to(torch.double)
    bounds = _unit_bounds(X.shape[-1])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                models = [_gp(X, Y[:, i], bounds) for i in range(Y.shape[-1])]
                model = ModelListGP(*models)
                fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
                acq = qLogNoisyExpectedHypervolumeImprovement(
                    model=model, ref_point=ref_point.to(torch.double).tolist(), X_baseline=X, prune_baseline=True,
                    sampler=SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=seed),
                )
                candidate, _ = optimize_acqf(acq, bounds=bounds, q=q, num_restarts=num_restarts,
                                             raw_samples=raw_samples, options={"seed": seed})
        except Exception as exc:  # a failed fit must not end a long search
            return _fallback(X.shape[-1], q, seed, exc, bounds)
    return candidate.detach()


def suggest_single_objective(X: torch.Tensor, y: torch.Tensor, seed: int, num_restarts: int = 10,
                             raw_samples: int = 512, q: int = 1, bounds: torch.Tensor | None = None) -> torch.Tensor:
    """The next ``q`` points by qLogEI on one GP (maximising ``y``)."""
    X, y = X.to(torch.double), y.to(torch.double).reshape(-1)
    bounds = _unit_bounds(X.shape[-1]) if bounds is None else bounds.to(torch.double)
    if float(y.max() - y.min()) == 0.0:
        # Nothing to model yet: a constant outcome gives the GP no signal.
        return _fallback(X.shape[-1], q, seed, ValueError("constant outcomes"), bounds)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = _gp(X, y, bounds)
                fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
                acq = qLogExpectedImprovement(model=model, best_f=y.max(),
                                              sampler=SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]),
                                                                            seed=seed))
                candidate, _ = optimize_acqf(acq, bounds=bounds, q=q, num_restarts=num_restarts,
                                             raw_samples=raw_samples, options={"seed": seed})
        except Exception as exc:
            return _fallback(X.shape[-1], q, seed, exc, bounds)
    return candidate.detach()
