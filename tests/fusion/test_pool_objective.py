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


def test_live_tensors_view_one_flat_buffer_and_fusion_matches_the_tensor_by_tensor_sum():
    members = _members(4)
    live = get_model("tiny-bert").build_classifier(2, seed=99)
    before = {n: t.clone() for n, t in live.state_dict().items()}
    pool = CheckpointPool(live, members)
    # Building the pool keeps the model's weights; every fused tensor now lives in the flat buffer.
    assert all(torch.equal(live.state_dict()[n], before[n]) for n in before)
    flat = pool._groups[0].flat
    start, end = flat.data_ptr(), flat.data_ptr() + flat.numel() * flat.element_size()
    assert all(start <= p.data_ptr() < end for n, p in live.named_parameters())
    w = [0.1, 0.2, 0.3, 0.4]
    pool.fuse(w)
    reference = {n: torch.zeros_like(members[0][n]) for n in pool.names}
    for wk, m in zip(w, members):  # the previous pool's arithmetic: one in-place add per member
        for n in pool.names:
            reference[n].add_(m[n], alpha=wk)
    worst = max(float((live.state_dict()[n] - reference[n]).abs().max()) for n in pool.names)
    assert worst < 1e-6  # a few float32 ulps of values of order 1
    # The model really computes with the fused weights: same output as a model loaded with them.
    check = get_model("tiny-bert").build_classifier(2, seed=98)
    check.load_state_dict({**live.state_dict(), **reference})
    ids = torch.tensor([[101, 2000, 2001, 102]])
    assert torch.allclose(live.eval()(input_ids=ids).logits, check.eval()(input_ids=ids).logits, atol=1e-5)


def test_pool_memory_is_k_members_plus_the_live_model_and_members_are_read_once():
    members = _members(3)
    reads = []
    from bomf.fusion.pool import LazyStates

    lazy = LazyStates([lambda k=k: reads.append(k) or members[k] for k in range(3)])
    live = get_model("tiny-bert").build_classifier(2, seed=0)
    pool = CheckpointPool(live, lazy)
    assert reads == [0, 1, 2]  # each member loaded once, in order (one on hand at a time)
    fused_bytes = sum(live.state_dict()[n].numel() * 4 for n in pool.names)
    assert pool.memory()["members_bytes"] == 3 * fused_bytes and pool.memory()["live_fused_bytes"] == fused_bytes
    assert all(torch.equal(pool.member_state(k)[n], members[k][n]) for k in range(3) for n in pool.names)


def test_mixed_dtypes_fuse_per_group_and_member_dtype_is_honoured():
    live = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1).to(torch.float16))
    gen = torch.Generator().manual_seed(0)
    members = [{n: torch.randn(t.shape, generator=gen).to(t.dtype) for n, t in live.state_dict().items()}
               for _ in range(3)]
    w = [0.5, 0.25, 0.25]
    for dtype in (None, torch.float32):
        pool = CheckpointPool(live, members, dtype=dtype)
        assert len(pool._groups) == 2
        pool.fuse(w)
        for n, t in live.state_dict().items():
            want = sum(wk * m[n].double() for wk, m in zip(w, members))
            assert t.dtype == members[0][n].dtype  # the live model keeps its dtypes
            assert torch.allclose(t.double(), want, atol=2e-3 if t.dtype == torch.float16 else 1e-6), n
        assert {g.matrix.dtype for g in pool._groups} == ({torch.float32} if dtype else {torch.float32, torch.float16})


def test_fused_tensors_are_differentiable_in_the_weights():
    members = _members(3)
    pool = CheckpointPool(get_model("tiny-bert").build_classifier(2, seed=0), members)
    w = torch.tensor([0.2, 0.3, 0.5], requires_grad=True)
    fused = pool.fused_tensors(w)
    assert list(fused) == pool.names
    name = "classifier.weight"
    fused[name].sum().backward()
    want = torch.stack([members[k][name].sum() for k in range(3)])
    assert torch.allclose(w.grad, want, atol=1e-5)


def test_shared_evaluations_are_computed_once_and_charged_to_every_method(tmp_path):
    from bomf.fusion.objective import SharedEvaluations

    shared = SharedEvaluations()
    fn = lambda w: (float(w[0]), -float(w[0]))  # noqa: E731
    first, _, ev1 = make_objective([[0.0], [1.0]], fn, journal=tmp_path / "a.jsonl", identity={"m": "a"})
    second, _, ev2 = make_objective([[0.0], [1.0]], fn, journal=tmp_path / "b.jsonl", identity={"m": "b"})
    first.shared, first.owner, second.shared, second.owner = shared, "bomf", shared, "bo_loss"
    a = first([0.3, 0.7])
    b = second([0.3, 0.7], x=[0.6, 1.4])
    assert ev1.calls == 1 and ev2.calls == 0  # evaluated once...
    assert (b.loss, b.metrics, b.seconds) == (a.loss, a.metrics, a.seconds) and b.shared_from == "bomf"
    assert second.n_evaluations == 1 and second.n_computed == 0 and second.n_shared == 1  # ...charged to both
    assert second.shared_seconds == a.seconds and a.shared_from is None
    # The sharing is journaled: a resumed second method replays it, still saying where it came from.
    again, _, ev3 = make_objective([[0.0], [1.0]], fn, journal=tmp_path / "b.jsonl", identity={"m": "b"})
    replayed = again([0.3, 0.7])
    assert ev3.calls == 0 and replayed.replayed and replayed.shared_from == "bomf" and replayed.x == [0.6, 1.4]
    # A new weight vector is computed by whoever asks first and then shared the other way.
    c = second([0.5, 0.5])
    assert ev2.calls == 1 and first([0.5, 0.5]).shared_from == "bo_loss" and c.shared_from is None


def test_fusion_does_not_depend_on_the_thread_count():
    members = _members(5)
    pool = CheckpointPool(get_model("tiny-bert").build_classifier(2, seed=0), members)
    w = [0.13, 0.27, 0.2, 0.3, 0.1]
    old = torch.get_num_threads()
    out = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            pool.last_weights = None
            pool.fuse(w)
            out.append({n: t.clone() for n, t in pool.model.state_dict().items()})
    finally:
        torch.set_num_threads(old)
    assert all(torch.equal(out[0][n], out[1][n]) for n in pool.names)
