"""GP-BO suggestions with BoTorch: one step = fit the GPs, build an acquisition, optimise it.

Pure functions over float64 tensors; every objective is maximised. Outcomes are standardised
inside each GP. The caller's global RNG is left untouched (``torch.random.fork_rng``) and the
same inputs, seed and warm state give the same suggestion on CPU. Thread settings are the
caller's business: nothing global is changed.

Acquisitions (``Acquisition.kind``):

- ``nehvi``: ``qLogNoisyExpectedHypervolumeImprovement`` over every column of ``Y`` with a
  reference point (BOMF).
- ``parego``: ``qLogNParEGO``, a random augmented-Chebyshev scalarisation per step, or fixed
  ``weights`` (e.g. favouring the metric).
- ``constrained``: maximise column ``objective`` subject to column ``constraint`` >=
  ``threshold`` (analytic ``LogConstrainedExpectedImprovement`` at q = 1).
- ``ei``: single objective, column ``objective`` (analytic ``LogExpectedImprovement`` at q = 1,
  ``qLogExpectedImprovement`` above).

Degenerate data never stops a search: rows with a non-finite outcome are left out (with a
warning); when no GP can be used (no rows, constant outcomes, a numerical failure) the
suggestion is a seeded random point of the space and says why in ``Suggestion.fallback``.

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

import hashlib
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Literal, Sequence

import torch
from botorch.acquisition.analytic import LogConstrainedExpectedImprovement, LogExpectedImprovement
from botorch.acquisition.logei import qLogExpectedImprovement
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.acquisition.objective import GenericMCObjective
from botorch.sampling import SobolQMCNormalSampler

from .gp import GPKind, fit_gp
from .spaces import SearchSpace, get_space, sobol_points, unit_bounds

# 128 MC samples double the acquisition cost for no visible gain at q = 1.
MC_SAMPLES = 64

AcquisitionKind = Literal["nehvi", "parego", "constrained", "ei"]


@dataclass(frozen=True)
class Acquisition:
    """Which acquisition to optimise, with its parameters (units of the ``Y`` given to ``suggest``)."""

    kind: AcquisitionKind
    ref_point: tuple[float, ...] | None = None  # nehvi
    weights: tuple[float, ...] | None = None  # parego: fixed scalarisation weights; None = random per step
    objective: int = 0  # constrained / ei: the column maximised
    constraint: int | None = None  # constrained: the column that must stay >= threshold
    threshold: float | None = None
    monte_carlo: bool = False  # ei / constrained at q = 1: the MC form instead of the analytic one


# A fallback for want of data, not a failure: nothing varies for a GP to model (a degenerate
# trajectory's metric). Searches record it but do not count it as a broken step.
NO_SIGNAL = "every objective is constant over the data"

@dataclass
class Suggestion:
    """One BO step's answer: the point(s), why it fell back (if it did), the fitted GP state, timings."""

    x: torch.Tensor  # q x d
    fallback: str | None = None
    gp_state: dict | None = None
    fit_seconds: float = 0.0
    acquisition_seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def _check_and_clean(X: torch.Tensor, Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 copies with non-finite rows dropped; shape errors raise (they are bugs).

    Validation happens outside the fallback so that a caller's mistake is not hidden behind
    a random suggestion.
    """
    if X.dim() != 2 or Y.dim() != 2 or X.shape[0] != Y.shape[0]:
        raise ValueError(f"expected X: n x d and outcomes with n rows, got {tuple(X.shape)} and {tuple(Y.shape)}")
    X, Y = X.detach().to(torch.double), Y.detach().to(torch.double)
    finite = torch.isfinite(Y).all(dim=-1) & torch.isfinite(X).all(dim=-1)
    if not finite.all():
        warnings.warn(f"{int((~finite).sum())} of {len(finite)} evaluations are not finite; "
                      "they are left out of the GP fit", RuntimeWarning, stacklevel=3)
        X, Y = X[finite], Y[finite]
    return X, Y


def constant_columns(Y: torch.Tensor) -> list[int]:
    """Columns of ``Y`` with one value over every finite row (nothing for a GP to model).

    Example:
        >>> constant_columns(torch.tensor([[0.0, 1.0], [0.0, 2.0]]))
        [0]
    """
    out = []
    for j in range(Y.shape[-1]):
        col = Y[:, j][torch.isfinite(Y[:, j])]
        if col.numel() == 0 or bool(col.max() == col.min()):
            out.append(j)
    return out


def own_extension_dir() -> str:
    """Give this Python environment its own folder for torch's compiled extensions (unless
    ``$TORCH_EXTENSIONS_DIR`` is set), and return it.

    BoTorch compiles its fused qLogNEHVI kernel on first use into torch's extension folder, which
    is keyed by the kernel's name only. Each virtual environment builds it from its own copy of
    the source, so two environments sharing the folder rebuild it in turn (measured: 35 s on 2
    cores each time, inside the first BO step). Here each interpreter prefix builds it once.

    Example:
        >>> own_extension_dir() == os.environ["TORCH_EXTENSIONS_DIR"]
        True
    """
    if not os.environ.get("TORCH_EXTENSIONS_DIR"):
        from torch.utils.cpp_extension import get_default_build_root

        env = hashlib.sha256(f"{sys.prefix}|{torch.__version__}".encode()).hexdigest()[:12]
        py = f"py{sys.version_info.major}{sys.version_info.minor}"
        os.environ["TORCH_EXTENSIONS_DIR"] = os.path.join(get_default_build_root(), f"{py}-env-{env}")
    clear_stale_build_locks(os.environ["TORCH_EXTENSIONS_DIR"])
    return os.environ["TORCH_EXTENSIONS_DIR"]


# A build of the kernel takes about 35 s on 2 cores; a lock this old belongs to no live build.
STALE_LOCK_SECONDS = 300.0


def clear_stale_build_locks(folder: str, max_age: float = STALE_LOCK_SECONDS, poll: float = 2.0) -> list[str]:
    """Remove build locks that a killed process left behind in torch's extension ``folder``.

    torch guards an extension's build with a ``lock`` file and, if one exists, waits for it to
    disappear, forever, silently: a run killed while it built BoTorch's kernel left every later
    run hanging in its first BO step (seen here). A lock younger than ``max_age`` may be a live
    build: wait (polling) until it goes or grows stale; a stale one is removed with a warning.
    Returns the locks removed.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "ext").mkdir(); (d / "ext" / "lock").touch()
        >>> os.utime(d / "ext" / "lock", (0, 0))  # written in 1970: nobody is building
        >>> [pathlib.Path(p).parent.name for p in clear_stale_build_locks(str(d))]
        ['ext']
    """
    removed, said = [], False
    try:
        locks = [os.path.join(folder, name, "lock") for name in os.listdir(folder)]
    except OSError:  # no folder yet: nothing was ever built here
        return removed
    for lock in locks:
        while True:
            try:
                age = time.time() - os.path.getmtime(lock)
            except OSError:  # gone (or never there): the build finished
                break
            if age >= max_age:
                warnings.warn(f"removing a stale build lock left by a killed process: {lock} "
                              f"({age:.0f} s old)", RuntimeWarning, stacklevel=2)
                try:
                    os.unlink(lock)
                except FileNotFoundError:  # another process removed it first
                    pass
                # Any other error propagates: a lock we cannot remove would hang torch silently.
                removed.append(lock)
                break
            if not said:
                warnings.warn(f"waiting for another process to finish building a kernel ({lock}); a lock "
                              f"older than {max_age:.0f} s is taken as left by a killed process", RuntimeWarning,
                              stacklevel=2)
                said = True
            time.sleep(poll)
    return removed


_kernel_folder_ready = False  # BoTorch loads its kernel once per process: prepare its folder once


def _make_acquisition(model, X: torch.Tensor, Y: torch.Tensor, acquisition: Acquisition, sampler, q: int, seed: int):
    global _kernel_folder_ready
    kind = acquisition.kind
    if kind == "nehvi":
        if not _kernel_folder_ready:  # before the first qLogNEHVI loads (or builds) the kernel, not every BO step
            own_extension_dir()
            _kernel_folder_ready = True
        if acquisition.ref_point is None or len(acquisition.ref_point) != Y.shape[-1]:
            raise ValueError(f"nehvi needs a reference point with {Y.shape[-1]} entries")
        return qLogNoisyExpectedHypervolumeImprovement(model=model, ref_point=list(acquisition.ref_point),
                                                       X_baseline=X, prune_baseline=True, sampler=sampler)
    if kind == "parego":
        if acquisition.weights is not None:
            w = torch.tensor(acquisition.weights, dtype=torch.double)
        else:  # a random scalarisation per step, seeded (ParEGO)
            e = -torch.log(torch.rand(Y.shape[-1], generator=torch.Generator().manual_seed(seed), dtype=torch.double))
            w = e / e.sum()
        return qLogNParEGO(model=model, X_baseline=X, scalarization_weights=w / w.sum(), sampler=sampler,
                           prune_baseline=True)
    j = acquisition.objective
    if kind == "constrained":
        c, thr = acquisition.constraint, acquisition.threshold
        if c is None or thr is None:
            raise ValueError("a constrained acquisition needs a constraint column and a threshold")
        feasible = Y[:, c] >= thr
        best = Y[feasible, j].max() if feasible.any() else Y[:, j].min()
        if q == 1 and not acquisition.monte_carlo:
            return LogConstrainedExpectedImprovement(model=model, best_f=best, objective_index=j,
                                                     constraints={c: (thr, None)})
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement

        return qLogNoisyExpectedImprovement(model=model, X_baseline=X, sampler=sampler, prune_baseline=True,
                                            objective=GenericMCObjective(lambda Z, X=None: Z[..., j]),
                                            constraints=[lambda Z: thr - Z[..., c]])
    if kind == "ei":
        best = Y[:, j].max()
        if Y.shape[-1] != 1:
            raise ValueError("ei models one objective: pass a single column")
        if q == 1 and not acquisition.monte_carlo:
            return LogExpectedImprovement(model=model, best_f=best)
        return qLogExpectedImprovement(model=model, best_f=best, sampler=sampler)
    raise ValueError(f"unknown acquisition {kind!r}; use nehvi, parego, constrained or ei")


def suggest(X: torch.Tensor, Y: torch.Tensor, acquisition: Acquisition, *, seed: int,
            space: SearchSpace | str = "cube", names: Sequence[str] | None = None, num_restarts: int = 10,
            raw_samples: int = 512, q: int = 1, gp: GPKind = "list", warm: dict | None = None,
            bounds: torch.Tensor | None = None) -> Suggestion:
    """The next ``q`` points by ``acquisition`` over GPs fitted to ``(X, Y)``; see the module docstring.

    ``X`` is ``n x d`` (points of ``space``; with ``bounds``, a box other than the unit cube,
    for the cube space only), ``Y`` is ``n x m``. ``warm`` is a previous ``Suggestion.gp_state``.
    """
    space = get_space(space) if isinstance(space, str) else space
    X, Y = _check_and_clean(X, Y)
    d = X.shape[-1]
    names = list(names) if names is not None else [f"y{i}" for i in range(Y.shape[-1])]

    def fallback(why: str, state=None, fit_s=0.0) -> Suggestion:
        if bounds is not None:
            u = torch.rand(q, d, generator=torch.Generator().manual_seed(seed), dtype=torch.double)
            x = bounds[0] + u * (bounds[1] - bounds[0])
        else:
            x = space.random_points(q, d, seed)
        return Suggestion(x=x, fallback=why, gp_state=state, fit_seconds=fit_s)

    if Y.shape[0] == 0:
        return fallback("no finite evaluations")
    if len(constant_columns(Y)) == Y.shape[-1]:
        return fallback(NO_SIGNAL)
    state, fit_s, t0 = None, 0.0, time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        try:
            # BoTorch's numerical and optimiser warnings are routine over a long search.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model, state = fit_gp(X, Y, names=names, kind=gp, inputs=space.gp_inputs, warm=warm, bounds=bounds)
                fit_s = time.perf_counter() - t0
                t1 = time.perf_counter()
                sampler = SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=seed)
                acq = _make_acquisition(model, X, Y, acquisition, sampler, q, seed)
                if bounds is not None:
                    from botorch.optim import optimize_acqf

                    x, _ = optimize_acqf(acq, bounds=bounds, q=q, num_restarts=num_restarts, raw_samples=raw_samples,
                                         options={"seed": seed}, sequential=q > 1)
                else:
                    x = space.optimise(acq, d, num_restarts, raw_samples, seed, q=q)
                acq_s = time.perf_counter() - t1
        except Exception as exc:  # noqa: BLE001 - any numerical failure becomes a recorded fallback
            return fallback(f"{type(exc).__name__}: {str(exc)[:200]}", state, fit_s)
    if not torch.isfinite(x).all():
        return fallback("the acquisition optimiser returned a non-finite point", state, fit_s)
    return Suggestion(x=x.detach(), gp_state=state, fit_seconds=fit_s, acquisition_seconds=acq_s)


def _warn_fallback(s: Suggestion) -> torch.Tensor:
    if s.fallback is not None:
        warnings.warn(f"GP suggestion failed ({s.fallback}); using a seeded random point", RuntimeWarning,
                      stacklevel=3)
    return s.x


def suggest_multi_objective(X: torch.Tensor, Y: torch.Tensor, ref_point: torch.Tensor, seed: int,
                            num_restarts: int = 10, raw_samples: int = 512, q: int = 1) -> torch.Tensor:
    """The next ``q x d`` points in the unit cube by qLogNEHVI over one GP per objective.

    ``X`` is ``n x d`` in [0,1]^d, ``Y`` is ``n x m`` (maximised) and ``ref_point`` has ``m``
    entries in the units of ``Y``. A fallback warns (``RuntimeWarning``).

    Example:
        >>> import torch
        >>> X = sobol_points(6, 2, seed=0)
        >>> Y = torch.stack([-(X - 0.2).pow(2).sum(-1), -(X - 0.8).pow(2).sum(-1)], -1)
        >>> x = suggest_multi_objective(X, Y, Y.min(0).values - 0.1, seed=0, num_restarts=2, raw_samples=32)
        >>> tuple(x.shape)
        (1, 2)
    """
    acq = Acquisition("nehvi", ref_point=tuple(float(v) for v in ref_point))
    return _warn_fallback(suggest(X, Y, acq, seed=seed, num_restarts=num_restarts, raw_samples=raw_samples, q=q))


def suggest_single_objective(X: torch.Tensor, y: torch.Tensor, seed: int, num_restarts: int = 10,
                             raw_samples: int = 512, q: int = 1, bounds: torch.Tensor | None = None) -> torch.Tensor:
    """The next ``q x d`` points within ``bounds`` (default unit cube) by (log) expected improvement.

    ``y`` is ``n`` or ``n x 1``; ``bounds`` is ``2 x d`` (lower row, upper row). A fallback warns.

    Example:
        >>> import torch
        >>> X = sobol_points(5, 2, seed=1)
        >>> x = suggest_single_objective(X, X.sum(-1), seed=0, num_restarts=2, raw_samples=32)
        >>> tuple(x.shape)
        (1, 2)
    """
    if bounds is not None:
        bounds = bounds.to(torch.double)
        if bounds.shape != (2, X.shape[-1]):
            raise ValueError(f"bounds must be 2 x {X.shape[-1]}, got {tuple(bounds.shape)}")
    # Monte Carlo qLogEI, as stage 1 has always used (its journaled searches replay with it).
    s = suggest(X, y.reshape(-1, 1), Acquisition("ei", monte_carlo=True), seed=seed, num_restarts=num_restarts, raw_samples=raw_samples,
                q=q, bounds=bounds)
    return _warn_fallback(s)


__all__ = ["Acquisition", "AcquisitionKind", "MC_SAMPLES", "Suggestion", "constant_columns", "sobol_points",
           "suggest", "suggest_multi_objective", "suggest_single_objective", "unit_bounds"]
