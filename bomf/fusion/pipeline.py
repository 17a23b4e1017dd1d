"""One fusion cell end to end: trajectory -> pool + val objective -> method -> test, once -> record.

The method sees only the val objective. The test split is loaded here, after the method has
returned, and evaluated exactly once on the chosen model. Evaluations are journaled under
``<cache>/fusion/<key>/`` so a killed fusion resumes where it stopped; the finished record is
written atomically next to the journal and reused by an identical request.

Example:
    >>> from bomf.training import TrajectoryRequest
    >>> req = FusionRequest(TrajectoryRequest("rt-polarity", "minilm", seed=0), method="uniform_soup")
    >>> len(req.key())
    16
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.atomic import read_json, write_json
from ..training.checkpoint import load_state
from ..core.device import resolve_device
from .methods import get_method
from .objective import Evaluation, FusionObjective
from .pool import CheckpointPool
from ..models import get_model
from ..models.lora import fused_names, saved_state
from ..core.paths import cache_dir
from ..core.provenance import provenance
from ..evaluation import SplitEvaluator
from ..tasks import get_task
from ..training.trajectory import Trajectory, train_trajectory
from ..training.request import TrajectoryRequest
from ..training.build import build_evaluator, build_model

# Bump when a change alters what a fusion record contains (part of the cache key).
FUSION_VERSION = "2"  # 2: BOMF search rebuilt (spaces, warm GP states, fallbacks, constant objectives)
# Bump when the record's layout changes but its numbers do not: cached records of an older
# layout are rebuilt from the evaluation journal (no fused evaluation is repeated).
RECORD_VERSION = 2
BUDGET_PER_MEMBER = 5  # default budget: about 5K fused evaluations (the paper's setting)


@dataclass(frozen=True)
class FusionRequest:
    trajectory: TrajectoryRequest
    method: str
    budget: int | None = None  # fused evaluations for search methods; None = 5 x K
    seed: int | None = None  # the method's seed; None = the trajectory's seed
    options: tuple[tuple[str, object], ...] = field(default_factory=tuple)

    def resolved_budget(self) -> int:
        return self.budget if self.budget is not None else BUDGET_PER_MEMBER * self.trajectory.config.num_members

    def resolved_seed(self) -> int:
        return self.seed if self.seed is not None else self.trajectory.seed

    def identity(self) -> dict:
        return {
            "trajectory": self.trajectory.key(),
            "method": self.method,
            "budget": self.resolved_budget(),
            "seed": self.resolved_seed(),
            "options": dict(self.options),
            "fusion_version": FUSION_VERSION,
        }

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def fusion_folder(request: FusionRequest) -> Path:
    return cache_dir("fusion", request.key())


def member_priors(traj: Trajectory) -> list[Evaluation]:
    """The members' val evaluations made during training (one-hot weights, free for methods)."""
    k = len(traj.info["members"])
    return [
        Evaluation(weights=[1.0 if j == i else 0.0 for j in range(k)], loss=m["val"]["loss"], metrics=m["val"]["metrics"],
                   seconds=m["val"]["seconds"], source="member", label=f"member {i}")
        for i, m in enumerate(traj.info["members"])
    ]


@dataclass
class FusionContext:
    """What every fusion of one trajectory shares: members in a pool, val and test evaluators.

    Built once per trajectory and reused across methods (loading K members and tokenising the
    splits costs seconds). The test evaluator is only ever used by ``run_fusion`` after a method.
    """

    traj: Trajectory
    task: object
    pool: CheckpointPool
    val: SplitEvaluator
    test: SplitEvaluator
    device: str


def prepare_context(trajectory: TrajectoryRequest, device: str = "auto", progress: bool = False) -> FusionContext:
    device = resolve_device(device)
    traj = train_trajectory(trajectory, device=device, progress=progress)
    treq = traj.request()
    task = get_task(treq.task)
    tokenizer = get_model(treq.model).load_tokenizer()
    splits = task.load_splits(treq.resolved_limits())
    model = build_model(treq).to(device)
    # LoRA trajectories hold adapter tensors only: the pool fuses those and leaves the base alone.
    fused = set(fused_names(model))
    pool = CheckpointPool(model, traj.load_members(expected=saved_state(model)), select=fused.__contains__,
                          swa_file=traj.swa_file)
    precision = traj.info["costs"].get("mixed_precision")  # members were scored at it during training
    val = build_evaluator(treq, "val", device, splits=splits, tokenizer=tokenizer, mixed_precision=precision)
    test = build_evaluator(treq, "test", device, splits=splits, tokenizer=tokenizer, mixed_precision=precision)
    return FusionContext(traj=traj, task=task, pool=pool, val=val, test=test, device=device)


def cached_record(request: FusionRequest) -> dict | None:
    path = fusion_folder(request) / "record.json"
    if path.exists():
        cached = read_json(path)
        if cached.get("record_version") == RECORD_VERSION:
            return cached
    return None


def run_fusion(request: FusionRequest, device: str = "auto", progress: bool = False,
               context: FusionContext | None = None) -> dict:
    """Run (or reuse) one fusion cell and return its record."""
    spec = get_method(request.method)
    options = dict(request.options)
    spec.check_options(options)
    cached = cached_record(request)
    if cached is not None:
        return cached
    folder = fusion_folder(request)
    record_path = folder / "record.json"
    ctx = context or prepare_context(request.trajectory, device, progress)
    traj, task, pool, model = ctx.traj, ctx.task, ctx.pool, ctx.pool.model
    treq = traj.request()
    objective = FusionObjective(pool, ctx.val, task.metrics, task.primary_metric, prior=member_priors(traj),
                                journal=folder / "evaluations.jsonl", identity=request.identity())
    bar = None
    if progress and spec.search:
        from tqdm.auto import tqdm

        bar = tqdm(total=request.resolved_budget(), desc=f"{request.method} {treq.task}/s{treq.seed}", leave=False)
        objective.on_evaluation = lambda ev: bar.update(1)

    start = time.perf_counter()
    try:
        result = spec.run(objective, pool, request.resolved_budget(), request.resolved_seed(), **options)
    finally:
        if bar is not None:
            bar.close()
    # A resumed fusion replays evaluations a killed process computed: their seconds (from the
    # journal) count towards this cell's cost, or a resumed cell would look almost free.
    replayed_seconds = sum(e.seconds for e in objective.history if e.replayed)
    method_seconds = time.perf_counter() - start + replayed_seconds

    # The only test evaluation of this cell: the chosen model, once.
    if result.state_source == "swa":
        pool.load_state(load_state(traj.swa_file, saved_state(model)))
    elif result.state_source is not None:
        raise ValueError(f"method {request.method} returned an unknown state source {result.state_source!r}")
    else:
        pool.fuse(result.weights)
    test_result = ctx.test(model, keep_predictions=True)

    record = {
        "kind": "fusion",
        "record_version": RECORD_VERSION,
        "key": request.key(),
        "request": request.identity(),
        "trajectory": {"key": traj.info["key"], "request": traj.info["request"], "split_sizes": traj.info["split_sizes"],
                       "costs": traj.info["costs"], "member_steps": traj.info["member_steps"],
                       "members_val": [{"loss": m["val"]["loss"], "metrics": m["val"]["metrics"]}
                                       for m in traj.info["members"]],
                       "swa_val": {"loss": traj.info["swa"]["val"]["loss"], "metrics": traj.info["swa"]["val"]["metrics"]}},
        "task": treq.task,
        "model": treq.model,
        "method": request.method,
        "seed": treq.seed,
        "method_seed": request.resolved_seed(),
        "primary_metric": task.primary_metric,
        "weights": result.weights,
        "state_source": result.state_source,
        "val": {"loss": result.evaluation.loss, "metrics": result.evaluation.metrics},
        "test": {"loss": test_result.loss, "metrics": test_result.metrics, "n": test_result.n,
                 "predictions": test_result.extra["predictions"], "labels": test_result.extra["labels"],
                 # generation tasks: per-example metric values (tables bootstrap over them)
                 **({"example_scores": test_result.extra["example_scores"]}
                    if "example_scores" in test_result.extra else {})},
        "costs": {
            "budget": request.resolved_budget() if spec.search else 0,
            "fused_evaluations": objective.n_evaluations,
            "computed_evaluations": objective.n_computed,
            "eval_seconds": objective.seconds + replayed_seconds,
            "method_seconds": method_seconds,
            "overhead_seconds": max(0.0, method_seconds - objective.seconds - replayed_seconds),
            "replayed_evaluations": sum(e.replayed for e in objective.history),
            "test_seconds": test_result.seconds,
        },
        "history": [e.to_dict() for e in objective.history],
        "info": result.info,
        **provenance(),
    }
    write_json(record_path, record)
    return record
