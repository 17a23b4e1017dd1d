"""Synthetic fusion landscapes with known optima: the test bed for BOMF's search.

A pool whose K members are the unit vectors e_1..e_K of R^K: fusing with weights w writes w
itself into the live model, so any function of w is a fusion landscape. An evaluator turns
the fused w into a val loss and val metric(s); the noise-free truth is kept beside it, so a
method's choice is scored by its **regret** (true primary metric at the optimum minus at the
choice) and its **optimism** (its val score minus its true score: the winner's curse).

Every landscape is drawn afresh from ``(kind, K, seed)``: shapes, scales, optimum positions and
noise come from distributions, not from hand-set values, so a method cannot be tuned to one
draw. Each objective is a saturated concave function of w,

    f(w) = top + gap * s * tanh(g(w) / (s * G)),   g(w) = -(w - w*)' A (w - w*) + t . (w - w*),

with A a random SPD matrix (condition number up to 10), ``t_k = 0`` on the support of ``w*``
and ``t_k < 0`` off it, and ``G`` the median of ``-g`` over the members (so members sit about
``gap`` below ``top``). ``g <= 0`` on the simplex with equality only at ``w*`` (concave, and
the KKT conditions hold at ``w*`` by the choice of ``t``), and tanh is increasing, so ``w*`` is
the exact maximiser and ``top`` the exact optimum: no numerical search is needed to know it.
The loss is the same construction, minimised (``bottom + gap_L * ...``).

Kinds (all for any K >= 3):

- ``interior``: metric optimum at an interior mixture (0.7 Dirichlet(1) + 0.3 uniform); the
  loss optimum near it (aligned objectives), noise-free.
- ``edge``: the optimum on the edge between the two last members (late members best), at a
  random point of that edge; the loss optimum on the same edge nearby.
- ``misaligned``: the loss is lowest at the uniform soup, the metric peaks at a sparse mix of
  two random members (the paper's loss-metric misalignment).
- ``noisy``: the ``interior`` truth, but the val metric is accuracy on ``n`` fixed examples
  (quantised in 1/n, noisy, and correlated across w: example i is right iff
  ``Phi^-1(f(w)) > z_i + e_i . w / |w|``, with ``z_i ~ N(0, 1 - tau^2)`` and
  ``e_i ~ N(0, tau^2 I)``, so P(right) = f(w) exactly); the val loss carries a small fixed tilt.
- ``noisy_misaligned``: the ``misaligned`` truth observed through the same noisy val set.
- ``three_objectives``: two metrics (``accuracy``, primary, and ``f1``) with different interior
  optima, and the loss: three objectives for BOMF.

Example:
    >>> land = make_landscape("edge", k=5, seed=0)
    >>> land.optimum[:3], round(sum(land.optimum), 12)
    ([0.0, 0.0, 0.0], 1.0)
    >>> round(land.regret(land.optimum), 12), land.regret([0.2] * 5) > 0
    (0.0, True)
    >>> obj, pool = land.objective()
    >>> ev = obj([0.0, 0.0, 0.0, 0.5, 0.5])
    >>> sorted(ev.metrics), obj.n_evaluations
    (['accuracy'], 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from bomf.evaluation.base import EvalResult
from bomf.fusion import CheckpointPool, Evaluation, FusionObjective

KINDS = ("interior", "edge", "misaligned", "noisy", "noisy_misaligned", "three_objectives")
N_VAL = 500  # examples behind a noisy val metric (rt-polarity's val split has 500)


@dataclass
class Concave:
    """One objective's smooth truth: ``top + gap * s * tanh(g(w) / (s * G))`` (see the module doc)."""

    opt: np.ndarray
    A: np.ndarray
    tilt: np.ndarray
    top: float
    gap: float
    sat: float
    power: float = 2.0
    G: float = 1.0

    def g(self, W: torch.Tensor) -> torch.Tensor:
        opt = torch.as_tensor(self.opt, dtype=W.dtype)
        A = torch.as_tensor(self.A, dtype=W.dtype)
        d = W - opt
        # |d|_A ** power (power >= 1: convex), written so its gradient at d = 0 is finite.
        quad = ((d @ A) * d).sum(-1).clamp_min(1e-30)
        return -quad.pow(self.power / 2) + d @ torch.as_tensor(self.tilt, dtype=W.dtype)

    def __call__(self, W: torch.Tensor) -> torch.Tensor:
        return self.top + self.gap * self.sat * torch.tanh(self.g(W) / (self.sat * self.G))


def _spd(rng: np.random.Generator, k: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((k, k)))
    eig = np.exp(rng.uniform(math.log(0.3), math.log(3.0), k))
    return (q * eig) @ q.T


def _concave(rng: np.random.Generator, opt: np.ndarray, top: float, gap: float, tilt_scale: tuple[float, float]
             ) -> Concave:
    k = len(opt)
    A = _spd(rng, k)
    off = opt <= 0
    tilt = np.where(off, -rng.uniform(*tilt_scale, k) * float(np.trace(A)) / k, 0.0)
    f = Concave(opt=opt, A=A, tilt=tilt, top=top, gap=gap, sat=float(rng.uniform(1.0, 2.0)),
                power=float(rng.uniform(1.0, 1.6)))
    f.G = float(np.median(-f.g(torch.eye(k, dtype=torch.double)).numpy()))
    return f


def _interior(rng: np.random.Generator, k: int) -> np.ndarray:
    return 0.85 * rng.dirichlet(np.ones(k)) + 0.15 / k


def _on_edge(k: int, i: int, j: int, t: float) -> np.ndarray:
    w = np.zeros(k)
    w[i], w[j] = t, 1 - t
    return w


@dataclass
class Landscape:
    """Truth and val observation of one drawn landscape (see the module docstring)."""

    kind: str
    k: int
    seed: int
    metrics: dict[str, Concave]
    loss: Concave
    primary: str = "accuracy"
    noise: dict | None = None  # the fixed val set of a noisy metric
    loss_tilt: np.ndarray | None = None
    description: dict = field(default_factory=dict)

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(self.metrics)

    @property
    def optimum(self) -> list[float]:
        return [float(v) for v in self.metrics[self.primary].opt]

    @property
    def best_value(self) -> float:
        return float(self.metrics[self.primary].top)

    # -- truth ----------------------------------------------------------------------------
    def true_metrics(self, W) -> dict[str, torch.Tensor]:
        W = _rows(W)
        return {n: f(W) for n, f in self.metrics.items()}

    def true_loss(self, W) -> torch.Tensor:
        return self.loss(_rows(W))

    def true_primary(self, w: Sequence[float]) -> float:
        return float(self.metrics[self.primary](_rows(w))[0])

    def regret(self, w: Sequence[float]) -> float:
        """True primary metric at the optimum minus at ``w`` (>= 0)."""
        return self.best_value - self.true_primary(w)

    # -- what a method sees ----------------------------------------------------------------
    def observe(self, W) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Val loss and val metrics of the rows of ``W``."""
        W = _rows(W)
        metrics = self.true_metrics(W)
        loss = self.true_loss(W)
        if self.loss_tilt is not None:
            loss = loss + W @ torch.as_tensor(self.loss_tilt, dtype=W.dtype)
        if self.noise is not None:
            z, e = self.noise["z"], self.noise["e"]
            direction = W / W.norm(dim=-1, keepdim=True)
            threshold = torch.special.ndtri(metrics[self.primary].clamp(1e-9, 1 - 1e-9))
            right = threshold[:, None] > z[None, :] + direction @ e.T
            metrics = {**metrics, self.primary: right.double().mean(-1)}
        return loss, metrics

    def objective(self, journal=None, identity: dict | None = None) -> tuple[FusionObjective, CheckpointPool]:
        """A fresh val objective over a pool of unit vectors; the members' evaluations are its prior."""
        k = self.k
        live = torch.nn.Linear(k, 1, bias=False).double()
        pool = CheckpointPool(live, [{"weight": torch.eye(k, dtype=torch.double)[i:i + 1]} for i in range(k)])
        loss, metrics = self.observe(torch.eye(k, dtype=torch.double))
        prior = [Evaluation(weights=[float(i == j) for j in range(k)], loss=float(loss[i]),
                            metrics={n: float(v[i]) for n, v in metrics.items()}, source="member", label=f"member {i}")
                 for i in range(k)]
        ident = identity or {"landscape": self.kind, "k": k, "seed": self.seed}
        obj = FusionObjective(pool, LandscapeEvaluator(self), self.metric_names, self.primary, prior=prior,
                              journal=journal, identity=ident)
        return obj, pool


class LandscapeEvaluator:
    """The val 'evaluator' of a landscape: reads w from the live model; differentiable loss for soups."""

    split_name = "val"

    def __init__(self, landscape: Landscape):
        self.landscape = landscape
        # One 'batch' whose forward pass returns w: learned soup's gradient path works unchanged.
        self.batches = [{"input": torch.eye(landscape.k, dtype=torch.double)}]

    def __len__(self) -> int:
        """Val examples behind the noisy kinds' accuracy; the exact kinds have no finite val set."""
        if self.landscape.noise is None:
            raise TypeError("an exact landscape's val metric is not measured on examples")
        return len(self.landscape.noise["z"])

    def __call__(self, model, keep_predictions: bool = False) -> EvalResult:
        w = model.weight.detach().reshape(1, -1).double()
        loss, metrics = self.landscape.observe(w)
        return EvalResult(loss=float(loss[0]), metrics={n: float(v[0]) for n, v in metrics.items()}, n=N_VAL)

    def batch_loss(self, model, batch, forward=None):
        out = (forward or model)(input=batch["input"].to(model.weight.dtype))
        w = out.reshape(1, -1).double()
        loss = self.landscape.true_loss(w)[0]
        if self.landscape.loss_tilt is not None:
            loss = loss + (w @ torch.as_tensor(self.landscape.loss_tilt, dtype=w.dtype))[0]
        return loss


def _rows(W) -> torch.Tensor:
    W = torch.as_tensor(W, dtype=torch.double)
    return W.reshape(1, -1) if W.dim() == 1 else W


def make_landscape(kind: str, k: int = 8, seed: int = 0, n_val: int = N_VAL) -> Landscape:
    """Draw landscape ``kind`` for ``k`` members from ``seed`` (deterministic)."""
    if kind not in KINDS:
        raise ValueError(f"unknown landscape {kind!r}; known: {', '.join(KINDS)}")
    if k < 3:
        raise ValueError("a landscape needs k >= 3 members")
    rng = np.random.default_rng([seed, KINDS.index(kind), k])
    top, gap = float(rng.uniform(0.80, 0.90)), float(rng.uniform(0.02, 0.05))
    bottom, gap_l = float(rng.uniform(0.30, 0.45)), float(rng.uniform(0.03, 0.10))
    uniform = np.full(k, 1.0 / k)
    metrics, noise, loss_tilt = {}, None, None
    base = {"noisy": "interior", "noisy_misaligned": "misaligned"}.get(kind, kind)
    if base == "interior":
        opt = _interior(rng, k)
        metrics["accuracy"] = _concave(rng, opt, top, gap, (0.3, 1.0))
        loss_opt = 0.8 * opt + 0.2 * rng.dirichlet(np.ones(k))
    elif base == "edge":
        opt = _on_edge(k, k - 2, k - 1, float(rng.uniform(0.3, 0.7)))
        metrics["accuracy"] = _concave(rng, opt, top, gap, (0.3, 1.0))
        loss_opt = _on_edge(k, k - 2, k - 1, float(np.clip(opt[k - 2] + rng.uniform(-0.15, 0.15), 0.1, 0.9)))
    elif base == "misaligned":
        i, j = (int(v) for v in rng.choice(k, size=2, replace=False))
        opt = _on_edge(k, i, j, float(rng.uniform(0.35, 0.65)))
        metrics["accuracy"] = _concave(rng, opt, top, gap, (0.1, 0.4))
        loss_opt = uniform
    else:  # three_objectives
        opt = _interior(rng, k)
        metrics["accuracy"] = _concave(rng, opt, top, gap, (0.3, 1.0))
        metrics["f1"] = _concave(rng, _interior(rng, k), float(rng.uniform(0.6, 0.8)), float(rng.uniform(0.03, 0.08)),
                                 (0.3, 1.0))
        loss_opt = 0.8 * opt + 0.2 * rng.dirichlet(np.ones(k))
    loss_fn = _concave(rng, loss_opt, 0.0, gap_l, (0.3, 1.0))
    # The loss is minimised: flip the concave construction around ``bottom``.
    loss = Concave(opt=loss_fn.opt, A=loss_fn.A, tilt=loss_fn.tilt, top=-bottom, gap=gap_l, sat=loss_fn.sat,
                   power=loss_fn.power, G=loss_fn.G)
    if kind.startswith("noisy"):
        tau = float(rng.uniform(0.3, 0.6))
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        noise = {"tau": tau, "z": torch.randn(n_val, generator=gen, dtype=torch.double) * math.sqrt(1 - tau ** 2),
                 "e": torch.randn(n_val, k, generator=gen, dtype=torch.double) * tau}
        loss_tilt = rng.standard_normal(k) * 0.1 * gap_l
    land = Landscape(kind=kind, k=k, seed=seed, metrics=metrics, loss=_NegLoss(loss), noise=noise, loss_tilt=loss_tilt)
    eye = torch.eye(k, dtype=torch.double)
    land.description = {
        "optimum": [round(v, 4) for v in land.optimum], "best_value": land.best_value,
        "members_true": [round(float(v), 4) for v in land.metrics[land.primary](eye)],
        "uniform_soup_true": round(land.true_primary(uniform), 4),
        "loss_members": [round(float(v), 4) for v in land.true_loss(eye)],
        "loss_uniform_soup": round(float(land.true_loss(uniform)[0]), 4),
        "loss_at_optimum": round(float(land.true_loss(land.optimum)[0]), 4),
    }
    return land


class _NegLoss:
    """Loss = -(concave construction with top = -bottom): lowest (= bottom) at its optimum."""

    def __init__(self, f: Concave):
        self.f = f

    @property
    def opt(self) -> np.ndarray:
        return self.f.opt

    def __call__(self, W: torch.Tensor) -> torch.Tensor:
        return -self.f(W)


__all__ = ["KINDS", "Landscape", "LandscapeEvaluator", "make_landscape"]
