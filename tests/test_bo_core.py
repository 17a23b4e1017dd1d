"""BO numerics: Sobol, Pareto, hypervolume, normalisation, determinism, and finding optima."""

import pytest
import torch

from bomf.bo import (apply_normalisation, hypervolume, normalise_objectives, pareto_mask, reference_point, sobol_points,
                     suggest_multi_objective, suggest_single_objective)

FAST = dict(num_restarts=2, raw_samples=64)


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_sobol_is_seeded_and_in_the_cube():
    a, b, c = sobol_points(8, 3, 0), sobol_points(8, 3, 0), sobol_points(8, 3, 1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1 and a.shape == (8, 3)


def test_pareto_mask_by_hand():
    Y = torch.tensor([[1, 0], [0, 1], [0.5, 0.5], [0.4, 0.4], [1, 0]], dtype=torch.double)
    assert pareto_mask(Y).tolist() == [True, True, True, False, True]


def test_hypervolume_by_hand():
    ref = torch.zeros(2, dtype=torch.double)
    assert hypervolume(torch.tensor([[1.0, 2.0], [2.0, 1.0]]), ref) == pytest.approx(3.0)
    # A point that does not dominate the reference adds nothing.
    assert hypervolume(torch.tensor([[1.0, 2.0], [2.0, 1.0], [5.0, -1.0]]), ref) == pytest.approx(3.0)
    assert hypervolume(torch.tensor([[-1.0, 1.0]]), ref) == 0.0


def test_normalisation_and_reference_point():
    members = torch.tensor([[0.80, -0.45], [0.82, -0.40], [0.81, -0.43]], dtype=torch.double)
    lo, hi = normalise_objectives(members)
    norm = apply_normalisation(members, lo, hi)
    assert norm.min() == pytest.approx(0.0) and norm.max() == pytest.approx(1.0)
    ref = reference_point(norm)
    assert (norm > ref).all()
    lo, hi = normalise_objectives(torch.ones(3, 2, dtype=torch.double))  # identical members: no division by 0
    assert torch.isfinite(apply_normalisation(torch.ones(1, 2), lo, hi)).all()


def _bowl(X):
    return -((X - torch.tensor([0.3, 0.7], dtype=torch.double)) ** 2).sum(-1)


def test_single_objective_bo_is_deterministic_and_beats_random_search():
    X = sobol_points(5, 2, seed=0)
    assert torch.equal(suggest_single_objective(X, _bowl(X), seed=3, **FAST),
                       suggest_single_objective(X, _bowl(X), seed=3, **FAST))
    for _ in range(10):
        X = torch.cat([X, suggest_single_objective(X, _bowl(X), seed=len(X), **FAST)])
    best_bo = float(_bowl(X).max())
    best_random = float(_bowl(torch.rand(15, 2, generator=torch.Generator().manual_seed(0), dtype=torch.double)).max())
    assert best_bo > -0.002 and best_bo > best_random


def test_constant_outcomes_do_not_crash():
    X = sobol_points(4, 3, seed=0)
    with pytest.warns(RuntimeWarning):
        x = suggest_single_objective(X, torch.zeros(4, dtype=torch.double), seed=0, **FAST)
    assert x.shape == (1, 3) and 0 <= x.min() and x.max() <= 1


def _two_targets(X):
    w = X / X.sum(-1, keepdim=True).clamp_min(1e-12)
    a = torch.tensor([0.6, 0.3, 0.1], dtype=torch.double)
    b = torch.tensor([0.1, 0.3, 0.6], dtype=torch.double)
    return torch.stack([-((w - a) ** 2).sum(-1), -((w - b) ** 2).sum(-1)], -1), w, a, b


@pytest.mark.parametrize("seed", [0, 1])
def test_multi_objective_bo_finds_the_pareto_segment(seed):
    X = sobol_points(6, 3, seed=seed)
    Y, _, a, b = _two_targets(X)
    lo, hi = normalise_objectives(Y)
    ref = reference_point(apply_normalisation(Y, lo, hi))
    x1 = suggest_multi_objective(X, apply_normalisation(Y, lo, hi), ref, seed=seed, **FAST)
    assert torch.equal(x1, suggest_multi_objective(X, apply_normalisation(Y, lo, hi), ref, seed=seed, **FAST))
    for i in range(10):
        Y, _, _, _ = _two_targets(X)
        X = torch.cat([X, suggest_multi_objective(X, apply_normalisation(Y, lo, hi), ref, seed=seed + i, **FAST)])
    Y, w, a, b = _two_targets(X)
    Xr = torch.rand(16, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.double)
    Yr, _, _, _ = _two_targets(Xr)
    assert hypervolume(apply_normalisation(Y, lo, hi), ref) > hypervolume(apply_normalisation(Yr, lo, hi), ref)
    # Pareto points found by BO lie near the segment [a, b] (the true Pareto set).
    front = w[pareto_mask(Y)]
    d = b - a
    t = ((front - a) @ d / (d @ d)).clamp(0, 1)
    dist = (front - (a + t[:, None] * d)).norm(dim=-1)
    assert float(dist.median()) < 0.15
