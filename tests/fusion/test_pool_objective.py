"""The checkpoint pool's arithmetic and the objective's counting, caching, journal and guard."""

import pytest
import torch

from bomf.core.errors import BomfError
from bomf.fusion import CheckpointPool
from bomf.models import get_model

from toy_fusion import make_objective


def _members(k=3):
    states = []
    for s in range(k):
        m = get_model("tiny-bert").build_classifier(2, seed=s)
        states.append({n: t.clone() for n, t in m.state_dict().items()})
    return states


def test_fuse_writes_the_weighted_sum_into_the_live_model():
    members = _members(3)
    live = get_model("tiny-bert").build_classifier(2, seed=99)
    pool = CheckpointPool(live, members)
    w = [0.2, 0.5, 0.3]
    pool.fuse(w)
    state = live.state_dict()
    for name in pool.names:
        expected = sum(wk * m[name] for wk, m in zip(w, members))
        assert torch.allclose(state[name], expected, atol=1e-6), name
    # Integer buffers are not fused.
    assert "bert.embeddings.position_ids" not in pool.names
    # One-hot weights reproduce a member exactly, and re-fusing after another weighting works.
    pool.fuse([0.0, 1.0, 0.0])
    assert all(torch.equal(live.state_dict()[n], members[1][n]) for n in pool.names)


def test_pool_rejects_mismatched_members_and_weights():
    members = _members(2)
    members[1]["classifier.weight"] = torch.zeros(3, 32)
    with pytest.raises(BomfError, match="classifier.weight has shape"):
        CheckpointPool(get_model("tiny-bert").build_classifier(2, seed=0), members)
    pool = CheckpointPool(get_model("tiny-bert").build_classifier(2, seed=0), _members(2))
    with pytest.raises(BomfError, match="2 members"):
        pool.fuse([1.0])


def test_objective_counts_times_and_caches_repeats():
    obj, _, ev = make_objective([[0.0], [2.0]], lambda w: (-abs(float(w) - 1), float(w) ** 2))
    a = obj([0.5, 0.5])
    assert a.loss == pytest.approx(1.0) and a.metrics["accuracy"] == pytest.approx(0.0)
    assert obj([0.5, 0.5]) is a and obj.n_evaluations == 1 and ev.calls == 1
    # Members are known (prior): asking for a member costs nothing.
    obj([1.0, 0.0])
    assert obj.n_evaluations == 1 and ev.calls == 1
    assert obj.objective_names == ("accuracy", "neg_loss") and a.value("neg_loss") == -a.loss
    with pytest.raises(BomfError, match="non-negative"):
        obj([-1.0, 2.0])


def test_objective_refuses_any_split_but_val():
    obj, pool, ev = make_objective([[0.0], [1.0]], lambda w: (0.0, 0.0))
    ev.split_name = "test"
    from bomf.fusion import FusionObjective

    with pytest.raises(BomfError, match="val split"):
        FusionObjective(pool, ev, ("accuracy",), "accuracy")


def test_journal_replays_after_a_kill_without_recomputing(tmp_path):
    journal = tmp_path / "evals.jsonl"
    fn = lambda w: (float(w), -float(w))  # noqa: E731
    obj, _, ev = make_objective([[0.0], [1.0]], fn, journal=journal)
    for w in ([0.1, 0.9], [0.3, 0.7], [0.6, 0.4]):
        obj(w, x=w)
    # A kill mid-write leaves half a line; it must be ignored, not read as an evaluation.
    with open(journal, "a") as fh:
        fh.write('{"weights": [0.9, 0.1], "loss"')
    obj2, _, ev2 = make_objective([[0.0], [1.0]], fn, journal=journal)
    assert obj2.recorded_point(1) == [0.3, 0.7] and obj2.recorded_point(3) is None
    for w in ([0.1, 0.9], [0.3, 0.7], [0.6, 0.4]):
        assert obj2(w).replayed
    assert ev2.calls == 0 and obj2.n_evaluations == 3
    obj2([0.9, 0.1])
    assert ev2.calls == 1 and obj2.n_evaluations == 4
    with pytest.raises(BomfError, match="another fusion run"):
        make_objective([[0.0], [1.0]], fn, journal=journal, identity={"other": 1})
