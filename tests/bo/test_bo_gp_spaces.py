"""GP states (warm starts read back exactly), search spaces, and recorded fallbacks of one BO step."""

import json

import pytest
import torch

from bomf.bo import Acquisition, constant_columns, fit_gp, get_space, sobol_points, suggest
from bomf.bo.gp import posterior_mean, same_state
from bomf.bo.spaces import cube_to_simplex

FAST = dict(num_restarts=2, raw_samples=64)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(n=10, d=3, seed=0):
    X = sobol_points(n, d, seed)
    Y = torch.stack([-((X - 0.3) ** 2).sum(-1), -((X - 0.7) ** 2).sum(-1)], -1)
    return X, Y


@pytest.mark.parametrize("kind", ["list", "batched"])
def test_a_journaled_gp_state_warm_starts_the_same_fit_as_the_live_one(kind):
    X, Y = _data()
    _, state = fit_gp(X[:8], Y[:8], names=("a", "b"), kind=kind)
    read_back = json.loads(json.dumps(state))  # what a journal stores and a resumed run reads
    assert same_state(state, read_back)
    _, live = fit_gp(X, Y, names=("a", "b"), kind=kind, warm=state)
    _, resumed = fit_gp(X, Y, names=("a", "b"), kind=kind, warm=read_back)
    assert json.dumps(live, sort_keys=True) == json.dumps(resumed, sort_keys=True)
    # A state of other objectives is ignored: the fit is a fresh one.
    _, ignored = fit_gp(X, Y, names=("c", "d"), kind=kind, warm=state)
    _, fresh = fit_gp(X, Y, names=("c", "d"), kind=kind)
    assert json.dumps(ignored, sort_keys=True) == json.dumps(fresh, sort_keys=True)


def test_a_warm_fit_starts_from_the_state_and_a_list_matches_objectives_by_name(monkeypatch):
    import bomf.bo.gp as gp

    starts = []
    original = gp.fit_gpytorch_mll

    def recording(mll, **kw):
        starts.append({n: p.detach().clone() for n, p in mll.model.named_parameters()})
        return original(mll, **kw)

    monkeypatch.setattr(gp, "fit_gpytorch_mll", recording)
    X, Y = _data()
    _, state = fit_gp(X[:8], Y[:8], names=("a", "b"), kind="list")
    starts.clear()
    # Objective 'b' alone: its sub-model starts from b's fitted state; 'a' is not used.
    _, only_b = fit_gp(X, Y[:, 1:], names=("b",), kind="list", warm=state)
    assert set(only_b["models"]) == {"b"} and len(starts) == 1
    assert {n: v.tolist() for n, v in starts[0].items()} == state["models"]["b"]


def test_spaces_map_points_to_simplex_weights():
    cube, cube_w, simplex = get_space("cube"), get_space("cube_w"), get_space("simplex")
    assert cube.weights([0.0, 0.0]) == [0.5, 0.5]  # the origin: the uniform soup, never a division by 0
    assert cube.weights([1.0, 3.0]) == [0.25, 0.75] == cube_w.weights([0.5, 1.5])
    for space in (cube, cube_w, simplex):
        x = space.initial_design(5, 4, seed=1)
        assert x.shape == (5, 4) and (x >= 0).all() and (x <= 1).all()
        assert torch.equal(x, space.initial_design(5, 4, seed=1))
        r = space.random_points(3, 4, seed=2)
        assert r.shape == (3, 4) and torch.equal(r, space.random_points(3, 4, seed=2))
    assert torch.allclose(simplex.initial_design(5, 4, seed=1).sum(-1), torch.ones(5, dtype=torch.double))
    assert cube.on_faces([0.0, 1.0, 0.5, 0.2]) == 0.5
    assert simplex.on_faces([0.0, 0.5, 0.5]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="unknown search space"):
        get_space("sphere")


def test_cube_to_simplex_is_uniform_on_the_simplex():
    # Uniform on the simplex of 3 members: each weight is Beta(1, 2), mean 1/3, P(w_0 < 1/3) = 5/9.
    u = torch.rand(20000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.double)
    w = cube_to_simplex(u)
    assert torch.allclose(w.sum(-1), torch.ones(len(w), dtype=torch.double))
    assert abs(float(w[:, 0].mean()) - 1 / 3) < 0.01
    assert abs(float((w[:, 0] < 1 / 3).double().mean()) - 5 / 9) < 0.01


@pytest.mark.parametrize("space", ["cube", "cube_w", "simplex"])
def test_a_step_in_each_space_is_seeded_and_inside_the_space(space):
    X, Y = _data(d=3)
    if space == "simplex":
        X = X / X.sum(-1, keepdim=True)
    acq = Acquisition("nehvi", ref_point=tuple(float(v) for v in Y.min(0).values - 0.1))
    a = suggest(X, Y, acq, seed=3, space=space, **FAST)
    b = suggest(X, Y, acq, seed=3, space=space, **FAST)
    assert a.fallback is None and torch.equal(a.x, b.x) and a.x.shape == (1, 3)
    assert (a.x >= 0).all() and (a.x <= 1).all()
    if space == "simplex":
        assert abs(float(a.x.sum()) - 1) < 1e-9
    assert a.gp_state is not None and a.fit_seconds > 0 and a.acquisition_seconds > 0


@pytest.mark.parametrize("kind", ["parego", "constrained", "ei"])
def test_other_acquisitions_suggest_without_falling_back(kind):
    X, Y = _data(d=3)
    acq = {"parego": Acquisition("parego", weights=(0.8, 0.2)),
           "constrained": Acquisition("constrained", objective=0, constraint=1, threshold=float(Y[:, 1].median())),
           "ei": Acquisition("ei")}[kind]
    s = suggest(X, Y[:, :1] if kind == "ei" else Y, acq, seed=0, space="cube_w", gp="batched", **FAST)
    assert s.fallback is None and s.x.shape == (1, 3)


def test_a_step_that_cannot_use_a_gp_says_why():
    X, _ = _data()
    s = suggest(X, torch.ones(len(X), 2, dtype=torch.double), Acquisition("nehvi", ref_point=(0.0, 0.0)), seed=0,
                **FAST)
    assert s.fallback == "every objective is constant over the data" and s.x.shape == (1, 3)
    bad = suggest(X, _data()[1], Acquisition("nehvi", ref_point=(0.0, 0.0)), seed=0, num_restarts="two",
                  raw_samples=64)
    assert bad.fallback is not None and "TypeError" in bad.fallback


def test_constant_columns():
    Y = torch.tensor([[0.0, 1.0, 2.0], [0.0, 2.0, 2.0], [0.0, float("nan"), 2.0]])
    assert constant_columns(Y) == [0, 2]


def test_posterior_mean_shrinks_a_lucky_observation():
    # A smooth truth observed with noise: the best observation overstates the truth there,
    # and the posterior mean at that point overstates it less.
    g = torch.Generator().manual_seed(0)
    X = torch.rand(40, 2, generator=g, dtype=torch.double)
    truth = -((X - 0.5) ** 2).sum(-1)
    y = truth + 0.05 * torch.randn(40, generator=g, dtype=torch.double)
    best = int(y.argmax())
    mu = posterior_mean(X, y, X[best:best + 1])
    assert float(y[best] - truth[best]) > float(mu[0] - truth[best])
