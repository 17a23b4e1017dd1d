"""One fusion cell end to end: trajectory -> pool + val objective -> method -> test, once -> record.

The method sees only the val objective. The test evaluator is built with the trajectory's
context but never handed to the method: it is called here, after the method has returned,
exactly once on the chosen model. Evaluations are journaled under
``<cache>/fusion/<key>/`` so a killed fusion resumes where it stopped; the finished record is
written atomically next to the journal and reused by an identical request.

A request's identity (its cache key) holds the trajectory's key (data, weights, config, device,
precision, trainer version), the method, budget, seed, every option's effective value (defaults
filled in, so changing a default changes the key) and ``FUSION_VERSION``.

Example:
    >>> from bomf.training import TrajectoryRequest
    >>> req = FusionRequest(TrajectoryRequest("rt-polarity", "tiny-bert", seed=0), method="bomf")
    >>> len(req.key()), req.identity()["options"]["num_restarts"]
    (16, 4)
    >>> FusionRequest(req.trajectory, method="bomf", budget=0)
    Traceback (most recent call last):
    ...
    bomf.core.errors.BomfError: budget must be a positive integer (fused evaluations a search method may spend), got 0; e.g. 30
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from ..core.atomic import read_json, write_json
from ..core.device import Precision, explain_out_of_memory, resolve_device, resolve_precision, say_fallback
from ..core.errors import BomfError
from ..core.fingerprint import content_key
from ..training.checkpoint import load_state
from .methods import get_method
from .objective import Evaluation, FusionObjective, SharedEvaluations, weight_key
from .pool import CheckpointPool, LazyStates
from ..models import get_model
from ..models.lora import fused_names, saved_state
from ..core.paths import cache_dir
from ..core.provenance import provenance
from ..evaluation import SplitEvaluator
from ..tasks import get_task
from ..training.trajectory import Trajectory, train_trajectory
from ..training.request import TrajectoryRequest
from ..training.build import build_evaluator, build_model

# Bump when a change alters what a fusion record contains (part of the cache key): the pool,
# objective, evaluator, search, BO numerics or a method's behaviour. tests/fusion/test_reproducible.py
# compares every method's fusion of a tiny trajectory with bomf/fusion/behaviour.json (recorded
# per FUSION_VERSION and TRAINER_VERSION) and fails when behaviour changed without a bump.
# 2: keys hold every option's effective value; BO, pool and evaluator changes since version 1.
# 3: fusion as one matrix-vector product (sums at BLAS's rounding: BO may walk another path).
# 4: learned soup minimises the full val loss by L-BFGS to a plateau; records carry test clusters.
# 5: BOMF search rebuilt (spaces, warm GP states, fallbacks, constant objectives, measured defaults),
#    smac_bo deterministic, selection optimism in every search record.
FUSION_VERSION = "5"
# Bump when the record's layout changes but its numbers do not: cached records of an older
# layout are rebuilt from the evaluation journal (no fused evaluation is repeated).
# 3: device, precision, precision_fallback; shared evaluations (costs, history, test).
RECORD_VERSION = 3
BUDGET_PER_MEMBER = 5  # default budget: about 5K fused evaluations (the paper's setting)


@dataclass(frozen=True)
class FusionRequest:
    trajectory: TrajectoryRequest
    method: str
    budget: int | None = None  # fused evaluations for search methods; None = 5 x K
    seed: int | None = None  # the method's seed; None = the trajectory's seed
    options: tuple[tuple[str, object], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        b = self.budget
        if b is not None and (not isinstance(b, int) or isinstance(b, bool) or b < 1):
            raise BomfError(f"budget must be a positive integer (fused evaluations a search method may spend), "
                            f"got {b!r}; e.g. 30")
        s = self.seed
        if s is not None and (not isinstance(s, int) or isinstance(s, bool) or s < 0):
            raise BomfError(f"the method's seed must be a non-negative integer, got {s!r}")

    def on_device(self, device: str | None, precision: str | None = None) -> "FusionRequest":
        """This request with its trajectory on ``device`` at ``precision`` (None: what it says)."""
        return replace(self, trajectory=self.trajectory.on_device(device, precision))

    def effective_options(self) -> dict:
        """Every option of the method, checked, with defaults filled in."""
        return get_method(self.method).resolve_options(dict(self.options))

    def resolved_budget(self) -> int:
        return self.budget if self.budget is not None else BUDGET_PER_MEMBER * self.trajectory.config.num_members

    def resolved_seed(self) -> int:
        return self.seed if self.seed is not None else self.trajectory.seed

    def identity(self) -> dict:
        out = {
            "trajectory": self.trajectory.key(),
            "method": self.method,
            "budget": self.resolved_budget(),
            "seed": self.resolved_seed(),
            "options": self.effective_options(),
            "fusion_version": FUSION_VERSION,
        }
        version = get_method(self.method).version
        if version != 1:  # from 2 on; keys made before methods had versions (all at 1) stay valid
            out["method_version"] = version
        return out

    def key(self) -> str:
        return content_key(self.identity())


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
    """What every fusion of one trajectory shares: members in a pool, val and test evaluators,
    and the evaluations already made on them.

    Built once per trajectory and reused across methods (loading K members and tokenising the
    splits costs seconds). The test evaluator is only ever used by ``run_fusion`` after a method.
    ``shared`` holds every fused val evaluation made through this context, so a weight vector
    several methods ask for is evaluated once (each method is still charged for it);
    ``test_results`` likewise holds the test evaluation of each final model (weights, or "swa").
    Evaluations are computed on ``device`` at ``precision``: the trajectory's, at which its
    members were scored on val during training.
    """

    traj: Trajectory
    task: object
    pool: CheckpointPool
    val: SplitEvaluator
    test: SplitEvaluator
    device: str
    precision: Precision = Precision("fp32")
    shared: SharedEvaluations = field(default_factory=SharedEvaluations)
    test_results: dict = field(default_factory=dict)  # ("weights", key) | ("swa",) -> (EvalResult, owner)
    test_clusters: list | None = None  # the test split's cluster ids, if the task declares them


def prepare_context(trajectory: TrajectoryRequest, device: str | None = None, progress: bool = False,
                    precision: str | None = None) -> FusionContext:
    """Train (or load) the trajectory on ``device`` at ``precision`` (None: the request's), load
    its members into a pool, build the val and test evaluators at the trajectory's precision."""
    trajectory = trajectory.on_device(device, precision)
    device = resolve_device(trajectory.device)
    traj = train_trajectory(trajectory, progress=progress)
    treq = traj.request()
    task = get_task(treq.task)
    tokenizer = get_model(treq.model).load_tokenizer()
    splits = task.load_splits(treq.resolved_limits())
    model = build_model(treq).to(device)
    # LoRA trajectories hold adapter tensors only: the pool fuses those and leaves the base alone.
    fused = set(fused_names(model))
    expected = saved_state(model)
    # Members are read one at a time into the pool's matrix: peak memory ~(K + 2) models, not 2K + 1.
    # Each is checked against the content hash recorded when it was saved.
    members = LazyStates([partial(load_state, path, expected, digest=m.get("sha256"))
                          for path, m in zip(traj.member_files, traj.info["members"])])
    pool = CheckpointPool(model, members, select=fused.__contains__, swa_file=traj.swa_file)
    # Fused models are scored at the precision the members were scored at during training.
    scoring = resolve_precision(device, traj.info["costs"].get("mixed_precision"))
    say_fallback(scoring, f"fusing trajectory {traj.info['key']}")
    val = build_evaluator(treq, "val", device, splits=splits, tokenizer=tokenizer,
                          mixed_precision=scoring.mixed_precision)
    test = build_evaluator(treq, "test", device, splits=splits, tokenizer=tokenizer,
                           mixed_precision=scoring.mixed_precision)
    clusters = None if splits.test.clusters is None else list(splits.test.clusters)
    return FusionContext(traj=traj, task=task, pool=pool, val=val, test=test, device=device, precision=scoring,
                         test_clusters=clusters)


def cached_record(request: FusionRequest) -> dict | None:
    path = fusion_folder(request) / "record.json"
    if path.exists():
        cached = read_json(path)
        if cached.get("record_version") == RECORD_VERSION:
            return cached
    return None


def method_label(request: FusionRequest) -> str:
    """The method and its options, e.g. ``bomf(objectives=primary)``: who made a shared evaluation."""
    options = ",".join(f"{k}={v}" for k, v in request.options)
    return f"{request.method}({options})" if options else request.method


def run_fusion(request: FusionRequest, device: str | None = None, progress: bool = False,
               context: FusionContext | None = None, precision: str | None = None) -> dict:
    """Run (or reuse) one fusion cell on ``device`` at ``precision`` (None: the request's) and
    return its record."""
    request = request.on_device(device, precision)
    spec = get_method(request.method)
    options = request.effective_options()  # checked before anything is loaded
    cached = cached_record(request)
    if cached is not None:
        return cached
    folder = fusion_folder(request)
    record_path = folder / "record.json"
    ctx = context or prepare_context(request.trajectory, progress=progress)
    traj, task, pool, model = ctx.traj, ctx.task, ctx.pool, ctx.pool.model
    treq = traj.request()
    owner = method_label(request)
    objective = FusionObjective(pool, ctx.val, task.metrics, task.primary_metric, prior=member_priors(traj),
                                journal=folder / "evaluations.jsonl", identity=request.identity(),
                                shared=ctx.shared, owner=owner)
    eval_batch = treq.config.eval_batch_size
    where = "--eval-batch-size, or eval_batch_size under [train] in a suite"
    bar = None
    if progress and spec.search:
        from tqdm.auto import tqdm

        bar = tqdm(total=request.resolved_budget(), desc=f"{request.method} {treq.task}/s{treq.seed}", leave=False)
        objective.on_evaluation = lambda ev: bar.update(1)

    start = time.perf_counter()
    try:
        with explain_out_of_memory(f"fusing with {request.method} on val", "eval batch size", eval_batch, where):
            result = spec.fn(objective, pool, request.resolved_budget(), request.resolved_seed(), **options)
    finally:
        if bar is not None:
            bar.close()
    # A resumed fusion replays evaluations a killed process computed, and a shared evaluation was
    # computed by another method of this trajectory: their seconds (from the journal, or the
    # original's) count towards this cell's cost, so a cell costs the same whatever ran before it.
    replayed_seconds = sum(e.seconds for e in objective.history if e.replayed)
    charged_seconds = replayed_seconds + objective.shared_seconds
    method_seconds = time.perf_counter() - start + charged_seconds

    # The only test evaluation of this cell: the chosen model, once (or once per trajectory, when
    # another method of this trajectory chose the same model: same weights, same test numbers).
    if result.state_source not in (None, "swa"):
        raise ValueError(f"method {request.method} returned an unknown state source {result.state_source!r}")
    test_key = ("swa",) if result.state_source == "swa" else ("weights", weight_key(result.weights))
    test_shared_from = None
    if test_key in ctx.test_results:
        test_result, test_shared_from = ctx.test_results[test_key]
    else:
        if result.state_source == "swa":
            pool.load_state(traj.load_swa(saved_state(model)))
        else:
            pool.fuse(result.weights)
        with explain_out_of_memory("evaluating the chosen model on test", "eval batch size", eval_batch, where):
            test_result = ctx.test(model, keep_predictions=True)
        ctx.test_results[test_key] = (test_result, owner)

    record = {
        "kind": "fusion",
        "record_version": RECORD_VERSION,
        "key": request.key(),
        "request": request.identity(),
        "trajectory": {"key": traj.info["key"], "request": traj.info["request"], "split_sizes": traj.info["split_sizes"],
                       "costs": traj.info["costs"], "member_steps": traj.info["member_steps"],
                       "members_val": [{"loss": m["val"]["loss"], "metrics": m["val"]["metrics"]}
                                       for m in traj.info["members"]],
                       "swa_val": {"loss": traj.info["swa"]["val"]["loss"], "metrics": traj.info["swa"]["val"]["metrics"]},
                       "degenerate": traj.info.get("degenerate")},
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
                 # evaluated once per trajectory: the method that first chose this model (None: this one)
                 "shared_from": test_shared_from,
                 # generation tasks: per-example metric values (tables bootstrap over them)
                 **({"example_scores": test_result.extra["example_scores"]}
                    if "example_scores" in test_result.extra else {}),
                 # tasks whose test examples share sources: the tables resample whole clusters
                 **({"clusters": ctx.test_clusters} if ctx.test_clusters is not None else {})},
        "costs": {
            "budget": request.resolved_budget() if spec.search else 0,
            "fused_evaluations": objective.n_evaluations,
            "computed_evaluations": objective.n_computed,
            "eval_seconds": objective.seconds + charged_seconds,
            "method_seconds": method_seconds,
            "overhead_seconds": max(0.0, method_seconds - objective.seconds - charged_seconds),
            "replayed_evaluations": sum(e.replayed for e in objective.history),
            # evaluated once for this trajectory by another method (``history[i].shared_from``), charged here
            "shared_evaluations": objective.n_shared,
            "shared_seconds": objective.shared_seconds,
            "test_seconds": test_result.seconds,
        },
        # Where this record's evaluations ran: the device, and the precision of the val and test
        # passes ("bf16" autocast or "fp32"; weights are float32 either way), with the reason when a
        # GPU without bf16 fell back to float32. The trajectory's own are under trajectory.costs.
        "device": str(ctx.device),
        "precision": ctx.precision.name,
        "precision_fallback": ctx.precision.fallback,
        "history": [e.to_dict() for e in objective.history],
        "info": result.info,
        **provenance(),
    }
    write_json(record_path, record)
    return record
