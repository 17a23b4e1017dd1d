"""What one cell of the regimes suite costs, as ratios to a reference operation, measured interleaved.

The machine this project runs on is shared, so absolute seconds mean little; ratios measured side
by side in one process do not move with the load (``sidebyside.py``). The reference is one fused
evaluation of MiniLM on rt-polarity's 500 val sentences, which costs about 1.8 s on 2 idle cores
(README, ``results/benchmarks/fusion_speed.json``). Each operation the regimes suite repeats is timed
in rounds interleaved with that reference, and its idle cost is estimated as ratio x 1.8 s:

- a fused evaluation (fuse K = 8 members + one val pass) on rt-polarity val 300 and on
  conll2010-uncertainty val 300 (the suite caps val at 300);
- a training step (batch 32) on each task;
- one learned-soup val pass (forward + backward through the weighted sum, val 300);
- one BO suggestion with the suite's light settings (2 objectives, 4 restarts, 128 raw samples)
  at 66 observations in 8 dimensions, and the authors' (3 objectives, 10 restarts, 512), on one
  torch thread, as the searches run;
- the test evaluation of conll2010-uncertainty (1,500 sentences).

Run: ``python benchmarks/regimes_cost.py`` (a few minutes); writes ``results/benchmarks/regimes_cost.json``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bomf.bo.acquisition import suggest_multi_objective  # noqa: E402
from bomf.fusion.pool import CheckpointPool  # noqa: E402
from bomf.models.lora import saved_state  # noqa: E402
from bomf.tasks import SplitLimits  # noqa: E402
from bomf.tasks.encoding import collate, encode_split, length_grouped_batches  # noqa: E402
from bomf.training.build import build_evaluator, build_model  # noqa: E402
from bomf.training.request import TrainConfig, TrajectoryRequest  # noqa: E402
from bomf.evaluation import task_loss  # noqa: E402

REFERENCE_IDLE_S = 1.8  # one fused MiniLM evaluation, rt-polarity val 500, 2 idle cores
K = 8


def _setup(task: str, val: int | None):
    req = TrajectoryRequest(task, "minilm", seed=0, config=TrainConfig(num_members=K), limits=SplitLimits(val=val))
    model = build_model(req)
    base = saved_state(model)
    gen = torch.Generator().manual_seed(0)
    members = [{k: v + 1e-3 * torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
                for k, v in base.items()} for _ in range(K)]
    pool = CheckpointPool(model, members)
    return req, model, pool


def main() -> None:
    torch.manual_seed(0)
    ops = {}
    ref_req, ref_model, ref_pool = _setup("rt-polarity", None)
    ref_eval = build_evaluator(ref_req, "val", "cpu")
    w = [1.0 / K] * K

    def reference():
        ref_pool.fuse(w)
        ref_eval(ref_model)

    for task in ("rt-polarity", "conll2010-uncertainty"):
        req, model, pool = _setup(task, 300)
        val = build_evaluator(req, "val", "cpu")
        ops[f"fused evaluation, {task}, val 300"] = (lambda p=pool, m=model, v=val: (p.fuse(w), v(m)))
        from bomf.tasks import get_task
        t = get_task(task)
        from bomf.models import get_model
        tok = get_model("minilm").load_tokenizer()
        enc = encode_split(tok, t.load_splits(SplitLimits(val=300)).train, t.max_length)
        batches = list(length_grouped_batches(enc.lengths(), 32, seed=0))
        train_model = build_model(req)
        opt = torch.optim.AdamW(train_model.parameters(), lr=5e-5)
        it = iter(range(10**9))

        def step(m=train_model, o=opt, e=enc, b=batches, t=t, i=it):
            batch = collate(e, b[next(i) % len(b)])
            labels = batch.pop("labels")
            loss = task_loss(t, m(**batch).logits, labels)
            loss.backward()
            o.step()
            o.zero_grad(set_to_none=True)

        ops[f"training step, {task}, batch 32"] = step

        def soup_pass(p=pool, m=model, v=val):
            from torch.func import functional_call
            logits = torch.zeros(K, requires_grad=True)
            members = [p.member_tensors(i) for i in range(K)]
            for batch in v.batches:
                alpha = torch.softmax(logits, 0)
                params = {n: sum(alpha[i] * members[i][j] for i in range(K)) for j, n in enumerate(p.names)}
                v.batch_loss(m, batch, forward=lambda **kw: functional_call(m, params, args=(), kwargs=kw)).backward()

        ops[f"learned-soup val pass, {task}, val 300"] = soup_pass
        if task == "conll2010-uncertainty":
            test = build_evaluator(req, "test", "cpu")
            ops["test evaluation, conll2010-uncertainty, 1500"] = lambda m=model, te=test: te(m, keep_predictions=True)

    gen = torch.Generator().manual_seed(1)
    X = torch.rand(66, K, generator=gen, dtype=torch.double)
    Y2 = torch.rand(66, 2, generator=gen, dtype=torch.double)
    Y3 = torch.rand(66, 3, generator=gen, dtype=torch.double)

    def bo(Y, restarts, raw):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as the searches run their BO
        try:
            suggest_multi_objective(X, Y, ref_point=torch.full((Y.shape[1],), -0.1, dtype=torch.double), seed=0,
                                    num_restarts=restarts, raw_samples=raw)
        finally:
            torch.set_num_threads(threads)

    ops["BO step, 2 objectives, 4 restarts / 128 raw, n = 66"] = lambda: bo(Y2, 4, 128)
    ops["BO step, 3 objectives, 10 restarts / 512 raw, n = 66"] = lambda: bo(Y3, 10, 512)

    out = {"reference": "fused evaluation, rt-polarity, val 500 (about 1.8 s on 2 idle cores)",
           "reference_idle_s": REFERENCE_IDLE_S, "threads": torch.get_num_threads(), "ops": {}}
    for name, fn in ops.items():
        fn()
        reference()  # warm-up
        ratios = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            a = time.perf_counter() - t0
            t0 = time.perf_counter()
            reference()
            ratios.append(a / (time.perf_counter() - t0))
        r = statistics.median(ratios)
        out["ops"][name] = {"ratio_to_reference": r, "idle_estimate_s": r * REFERENCE_IDLE_S, "ratios": ratios}
        print(f"{name}: {r:.3f} x reference = ~{r * REFERENCE_IDLE_S:.2f} s idle", flush=True)
    path = ROOT / "results" / "benchmarks" / "regimes_cost.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
