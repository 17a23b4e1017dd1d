"""Gaussian-process surrogates: one GP per objective, as a model list or one batched model.

- ``kind="list"``: BoTorch ``ModelListGP`` of one ``SingleTaskGP`` per objective (the paper's
  ``ModelListGP``); each is fitted on its own.
- ``kind="batched"``: one multi-output ``SingleTaskGP`` (independent outputs in a batch): one
  fit and one posterior call for every objective, which is what makes it cheaper.

Inputs are transformed before the kernel (``inputs``): ``"normalize"`` (the unit cube or the
given bounds, as BoTorch's tutorials do) or ``"simplex"`` (``x -> x / sum(x)``: a GP on the
fusion weights, which knows that ``x`` and ``2x`` are the same fusion). Outcomes are standardised.

**Warm starts.** ``fit_gp(..., warm=state)`` starts the optimiser of the marginal likelihood
from a previous fit's hyperparameters (``gp_state``), so that one BO step's fit costs a few
L-BFGS iterations. A state is plain JSON (raw parameters as float lists; float64 -> Python
float -> JSON round-trips bit for bit), so a journaled state read back after a kill gives the
same fit. A state of another shape (an objective added or dropped) is ignored per objective.

Example:
    >>> import torch
    >>> X = torch.rand(8, 2, dtype=torch.double, generator=torch.Generator().manual_seed(0))
    >>> Y = torch.stack([X.sum(-1), -X[:, 0]], -1)
    >>> model, state = fit_gp(X, Y, names=("a", "b"), kind="batched")
    >>> state["kind"], state["names"], model.num_outputs
    ('batched', ['a', 'b'], 2)
    >>> again, state2 = fit_gp(X, Y, names=("a", "b"), kind="batched", warm=state)
    >>> set(state2["params"]) == set(state["params"])
    True
"""

from __future__ import annotations

import json
import warnings
from typing import Literal, Sequence

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import ModelListGP, SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from botorch.models.transforms.input import InputTransform
from gpytorch.mlls import ExactMarginalLogLikelihood

GPKind = Literal["list", "batched"]
GPInputs = Literal["normalize", "simplex"]
# A warm start begins near a fitted optimum: a looser relative tolerance ends the fit after a
# few iterations instead of polishing digits the acquisition cannot see.
WARM_FTOL = 1e-6


class SimplexInput(InputTransform, torch.nn.Module):
    """``x -> x / sum(x)``: the GP sees fusion weights, so every ray of the cube is one input."""

    def __init__(self) -> None:
        super().__init__()
        self.transform_on_train = True
        self.transform_on_eval = True
        self.transform_on_fantasize = True

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        return X / X.sum(dim=-1, keepdim=True).clamp_min(1e-12)


def _input_transform(inputs: GPInputs, dim: int, bounds: torch.Tensor | None):
    if inputs == "simplex":
        return SimplexInput()
    if bounds is None:
        bounds = torch.stack([torch.zeros(dim, dtype=torch.double), torch.ones(dim, dtype=torch.double)])
    return Normalize(dim, bounds=bounds)


def _params(module: torch.nn.Module) -> dict[str, list]:
    return {n: p.detach().tolist() for n, p in module.named_parameters()}


def _load(module: torch.nn.Module, params: dict | None) -> bool:
    """Copy ``params`` into ``module``; False (and nothing copied) if names or shapes differ."""
    if not params:
        return False
    own = dict(module.named_parameters())
    if set(own) != set(params):
        return False
    values = {n: torch.tensor(params[n], dtype=p.dtype) for n, p in own.items()}
    if any(values[n].shape != p.shape for n, p in own.items()):
        return False
    with torch.no_grad():
        for n, p in own.items():
            p.copy_(values[n])
    return True


def _fit(mll, warm: bool, batched: bool) -> None:
    if not warm:
        fit_gpytorch_mll(mll)
        return
    # BoTorch's batched L-BFGS-B takes ftol only with its own factr switched off.
    options = {"ftol": WARM_FTOL, **({"factr": None} if batched else {})}
    fit_gpytorch_mll(mll, optimizer_kwargs={"options": options})


def fit_gp(X: torch.Tensor, Y: torch.Tensor, names: Sequence[str], kind: GPKind = "list",
           inputs: GPInputs = "normalize", warm: dict | None = None, bounds: torch.Tensor | None = None):
    """Fit one GP per column of ``Y`` (``n x m``) on ``X`` (``n x d``); return ``(model, state)``.

    ``names`` label the columns (a warm state is matched by name); ``state`` is the fitted
    hyperparameters as JSON-ready data (see the module docstring).
    """
    names = [str(n) for n in names]
    if Y.shape[-1] != len(names):
        raise ValueError(f"{Y.shape[-1]} outcome columns but {len(names)} names")
    d = X.shape[-1]
    if kind == "batched":
        model = SingleTaskGP(X, Y, input_transform=_input_transform(inputs, d, bounds),
                             outcome_transform=Standardize(m=Y.shape[-1]))
        warmed = bool(warm) and warm.get("kind") == "batched" and warm.get("names") == names and \
            _load(model, warm.get("params"))
        _fit(ExactMarginalLogLikelihood(model.likelihood, model), warmed, batched=True)
        return model, {"kind": "batched", "names": names, "params": _params(model)}
    if kind != "list":
        raise ValueError(f"unknown GP kind {kind!r}; use 'list' or 'batched'")
    models = [SingleTaskGP(X, Y[:, i:i + 1], input_transform=_input_transform(inputs, d, bounds),
                           outcome_transform=Standardize(m=1)) for i in range(len(names))]
    previous = (warm or {}).get("models", {}) if (warm or {}).get("kind") == "list" else {}
    for name, sub in zip(names, models):
        warmed = _load(sub, previous.get(name))
        _fit(ExactMarginalLogLikelihood(sub.likelihood, sub), warmed, batched=False)
    model = ModelListGP(*models)
    return model, {"kind": "list", "models": {n: _params(m) for n, m in zip(names, models)}}


def posterior_mean(X: torch.Tensor, y: torch.Tensor, at: torch.Tensor, noise: torch.Tensor | None = None,
                   seed: int = 0) -> torch.Tensor:
    """Posterior mean at ``at`` of one GP fitted to ``(X, y)``: a smoothed value.

    ``noise``: the known variance of each observation (e.g. ``p (1 - p) / n`` for an accuracy on
    ``n`` examples); without it the noise is learned, which on a val metric whose errors are
    correlated across nearby points (the same examples) comes out far too small. Where ``y`` is
    noisy, the best observation overstates its true value more than the posterior mean at the
    same point does (the winner's curse).

    Example:
        >>> import torch
        >>> X = torch.linspace(0, 1, 9, dtype=torch.double).reshape(-1, 1)
        >>> mu = posterior_mean(X, (X[:, 0] - 0.5) ** 2, X[:2])
        >>> tuple(mu.shape)
        (2,)
    """
    X, y = X.to(torch.double), y.to(torch.double).reshape(-1, 1)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if noise is None:
                model, _ = fit_gp(X, y, names=("y",), kind="batched")
            else:
                model = SingleTaskGP(X, y, train_Yvar=noise.to(torch.double).reshape(-1, 1),
                                     outcome_transform=Standardize(m=1))
                fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            with torch.no_grad():
                return model.posterior(at.to(torch.double)).mean.reshape(-1)


def same_state(a: dict | None, b: dict | None) -> bool:
    """Equal as JSON (what a journal stores and reads back)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


__all__ = ["GPKind", "GPInputs", "SimplexInput", "fit_gp", "posterior_mean", "same_state"]
