"""Fine-tune once and collect K fusion members plus an SWA running average, cached by content.

One trajectory = (task, model, split limits, training config, seed, trainer version). Its
folder under ``<cache>/trajectories/<key>/`` holds ``member_XX.safetensors``, ``swa.safetensors``
and ``trajectory.json`` (member steps, per-member val loss and metrics, costs). The folder is
built under a temporary name and renamed into place when complete, so a killed run never leaves
a folder that looks finished, and a second identical request trains nothing.

Example:
    >>> cfg = TrainConfig(epochs=1, num_members=3)
    >>> member_steps(total_steps=10, num_members=3, start_fraction=0.5)
    [5, 8, 10]
    >>> req = TrajectoryRequest(task="rt-polarity", model="minilm", seed=0, config=cfg)
    >>> len(req.key())
    16
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel

from .atomic import read_json, write_json
from .checkpoint import load_state, save_state
from .data import encode_split, length_grouped_batches, collate
from .device import make_accelerator, peak_memory_mb, reset_peak_memory
from .errors import BomfError, TrainingDivergedError
from .evaluator import EvalResult, make_evaluator, task_loss
from .generation import collate_lm, encode_generation, lm_loss
from .models import count_parameters_for_flops, freeze_bottom_layers, get_model
from .models.lora import apply_lora, load_saved_state, saved_state
from .paths import cache_dir
from .tasks import SplitLimits, get_task

# Bump when a change to this module changes what a trajectory contains: it is part of the
# cache key, so old trajectories are not mistaken for new ones.
TRAINER_VERSION = "1"


@dataclass(frozen=True)
class TrainConfig:
    """Fine-tuning hyperparameters and the member schedule.

    ``num_members`` members are taken evenly from ``start_fraction`` of training to the end;
    the SWA average is updated every ``swa_every`` optimizer steps over the same phase.
    ``freeze_layers > 0`` trains the stage-1 proxy instead of the full model.
    Generation tasks: ``lora_rank`` None = the model's default (``ModelSpec.default_lora_rank``;
    0 = fine-tune every weight), ``lora_alpha`` None = 2 x rank; ``max_target_length`` None =
    the task's bound.
    """

    lr: float = 5e-5
    batch_size: int = 32
    epochs: int = 3
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    num_members: int = 10
    start_fraction: float = 0.5
    swa_every: int = 1
    freeze_layers: int = 0
    max_length: int | None = None
    max_steps: int | None = None
    eval_batch_size: int = 128
    lora_rank: int | None = None
    lora_alpha: float | None = None
    lora_dropout: float = 0.0
    max_target_length: int | None = None

    def __post_init__(self) -> None:
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise BomfError(f"learning rate must be a positive number, got {self.lr}")
        if self.batch_size < 1 or self.epochs < 1 or self.num_members < 1:
            raise BomfError("batch_size, epochs and num_members must be at least 1")
        if not 0.0 <= self.start_fraction < 1.0:
            raise BomfError(f"start_fraction must be in [0, 1), got {self.start_fraction}")
        if self.lora_rank is not None and self.lora_rank < 0:
            raise BomfError(f"lora_rank must be 0 (no LoRA) or more, got {self.lora_rank}")
        if self.lora_alpha is not None:  # 16 and 16.0 must give one cache key
            object.__setattr__(self, "lora_alpha", float(self.lora_alpha))


# Fields added after trajectories were first cached. They enter a trajectory's identity only when
# set, so the keys (and the committed results that name them) of existing trajectories stay valid.
_LATER_FIELDS = {"lora_rank": None, "lora_alpha": None, "lora_dropout": 0.0, "max_target_length": None}


def config_identity(config: TrainConfig) -> dict:
    out = asdict(config)
    for name, default in _LATER_FIELDS.items():
        if out[name] == default:
            del out[name]
    return out


@dataclass(frozen=True)
class TrajectoryRequest:
    task: str
    model: str
    seed: int
    config: TrainConfig = field(default_factory=TrainConfig)
    limits: SplitLimits | None = None

    def resolved_limits(self) -> SplitLimits:
        return self.limits if self.limits is not None else get_task(self.task).default_limits

    def identity(self) -> dict:
        return {
            "task": self.task,
            "model": self.model,
            "seed": self.seed,
            "config": config_identity(self.config),
            "limits": asdict(self.resolved_limits()),
            "trainer_version": TRAINER_VERSION,
        }

    def key(self) -> str:
        """Content address: a hash of everything that determines the trajectory."""
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def member_steps(total_steps: int, num_members: int, start_fraction: float) -> list[int]:
    """Optimizer steps (1-based) at which members are taken: evenly from the start to the end.

    The first member is at ``ceil(start_fraction * total_steps)`` (at least step 1), the last
    at ``total_steps``; with fewer distinct steps than members, each step is used once.
    """
    start = max(1, math.ceil(start_fraction * total_steps))
    if num_members == 1:
        return [total_steps]
    steps = [round(start + i * (total_steps - start) / (num_members - 1)) for i in range(num_members)]
    return sorted(set(steps))


@dataclass
class Trajectory:
    """A finished trajectory on disk (what ``train_trajectory`` returns)."""

    folder: Path
    info: dict

    @property
    def member_files(self) -> list[Path]:
        return [self.folder / m["file"] for m in self.info["members"]]

    @property
    def swa_file(self) -> Path:
        return self.folder / self.info["swa"]["file"]

    def load_members(self, expected: dict | None = None) -> list[dict[str, torch.Tensor]]:
        return [load_state(p, expected) for p in self.member_files]

    def request(self) -> TrajectoryRequest:
        ident = self.info["request"]
        return TrajectoryRequest(
            task=ident["task"], model=ident["model"], seed=ident["seed"],
            config=TrainConfig(**ident["config"]), limits=SplitLimits(**ident["limits"]),
        )


def trajectory_folder(request: TrajectoryRequest) -> Path:
    return cache_dir("trajectories", request.key())


def load_trajectory(request: TrajectoryRequest) -> Trajectory | None:
    """The cached trajectory for ``request``, or None if it was never completed."""
    folder = trajectory_folder(request)
    meta = folder / "trajectory.json"
    if not meta.exists():
        return None
    return Trajectory(folder=folder, info=read_json(meta))


def resolve_lora_rank(model: str, config: TrainConfig) -> int:
    """The LoRA rank ``config`` trains ``model`` with (0: every weight); encoders never use LoRA here."""
    spec = get_model(model)
    if not spec.is_generator:
        return 0
    return spec.default_lora_rank if config.lora_rank is None else config.lora_rank


def lora_rank(request: TrajectoryRequest) -> int:
    return resolve_lora_rank(request.model, request.config)


def build_model(request: TrajectoryRequest):
    """The model a trajectory starts from: pre-trained body with a seeded new head (classification)
    or a generator, with LoRA adapters if it uses them, and the proxy's freezing."""
    task = get_task(request.task)
    spec = get_model(request.model)
    cfg = request.config
    if task.is_generation:
        model = spec.build_generator(seed=request.seed)
        rank = lora_rank(request)
        if rank:
            model = apply_lora(model, rank, spec.lora_targets, seed=request.seed, alpha=cfg.lora_alpha,
                               dropout=cfg.lora_dropout)
    elif spec.is_generator:
        raise BomfError(f"model {request.model} is a {spec.arch} generator and task {request.task} is a "
                        f"{task.kind} task; use an encoder (e.g. minilm) or a generation task")
    else:
        model = spec.build_classifier(task.num_labels, seed=request.seed, label_names=task.label_names)
    freeze_bottom_layers(model, cfg.freeze_layers)
    return model


def build_evaluator(request: TrajectoryRequest, split_name: str, device, splits=None, tokenizer=None,
                    mixed_precision: str | None = None):
    """The evaluator of one split of a trajectory's task (classification or generation);
    ``mixed_precision`` is the trajectory's ("bf16" on GPUs), so fused models are scored as members were."""
    task = get_task(request.task)
    spec = get_model(request.model)
    splits = splits or task.load_splits(request.resolved_limits())
    cfg = request.config
    return make_evaluator(task, spec, tokenizer or spec.load_tokenizer(), getattr(splits, split_name),
                          cfg.eval_batch_size, cfg.max_length or task.max_length, device=device,
                          split_name=split_name, max_target_length=cfg.max_target_length,
                          mixed_precision=mixed_precision)


def train_trajectory(request: TrajectoryRequest, device: str = "auto", progress: bool = False,
                     save_members: bool = True, patience: int | None = None) -> Trajectory:
    """Fine-tune per ``request`` (or reuse the cached result) and return the trajectory.

    ``save_members=False`` (stage-1 trials) evaluates at the member steps but writes no weights
    and caches nothing; with ``patience`` it also stops once the primary val metric has not
    improved for that many evaluations (early stopping).
    """
    if save_members:
        cached = load_trajectory(request)
        if cached is not None:
            return cached
    cfg = request.config
    task = get_task(request.task)
    spec = get_model(request.model)
    splits = task.load_splits(request.resolved_limits())
    tokenizer = spec.load_tokenizer()
    max_length = cfg.max_length or task.max_length
    if task.is_generation:
        train_enc = encode_generation(task, spec, tokenizer, splits.train, max_length, cfg.max_target_length)
    else:
        train_enc = encode_split(tokenizer, splits.train, max_length)

    accelerator = make_accelerator(device)
    dev = accelerator.device
    model = build_model(request)
    params = count_parameters_for_flops(model)
    val_eval = build_evaluator(request, "val", dev, splits=splits, tokenizer=tokenizer,
                               mixed_precision=accelerator.mixed_precision)

    steps_per_epoch = math.ceil(len(train_enc) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)
    schedule = member_steps(total_steps, cfg.num_members, cfg.start_fraction)
    swa_start = schedule[0]

    from transformers import get_linear_schedule_with_warmup

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    swa = AveragedModel(accelerator.unwrap_model(model)) if save_members else None

    final = trajectory_folder(request)
    work = final.parent / f".tmp-{final.name}-{os.getpid()}" if save_members else None
    if work is not None:
        _remove_stale_work(final)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)

    reset_peak_memory(dev)
    members: list[dict] = []
    step, examples, tokens = 0, 0, 0
    train_seconds = eval_seconds = 0.0
    label_dtype = torch.float32 if task.kind == "regression" else torch.long
    bar = _progress(total_steps, f"train {request.task}/{request.model}/s{request.seed}", progress)
    model.train()
    best_score, since_best, stopped_early = -math.inf, 0, False
    try:
        for epoch in range(cfg.epochs):
            for idx in length_grouped_batches(train_enc.lengths(), cfg.batch_size, seed=request.seed * 1000 + epoch):
                if step >= total_steps or stopped_early:
                    break
                t0 = time.perf_counter()
                if task.is_generation:
                    batch = {k: v.to(dev) for k, v in collate_lm(train_enc, idx).items()}
                    with accelerator.autocast():
                        loss = lm_loss(model, batch)
                    n_tokens = batch["input_ids"].numel() + (batch["labels"].numel() if spec.arch == "seq2seq" else 0)
                else:
                    batch = {k: v.to(dev) for k, v in collate(train_enc, idx, label_dtype=label_dtype).items()}
                    labels = batch.pop("labels")
                    with accelerator.autocast():
                        logits = model(**batch).logits
                    loss = task_loss(task, logits, labels)
                    n_tokens = batch["input_ids"].numel()
                if not torch.isfinite(loss):
                    raise TrainingDivergedError(
                        f"training {request.task}/{request.model} diverged (loss {loss.item()}) at step {step + 1} "
                        f"with lr {cfg.lr}; lower the learning rate"
                    )
                accelerator.backward(loss)
                if cfg.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                examples += len(idx)
                tokens += n_tokens
                if swa is not None and step >= swa_start and (step - swa_start) % cfg.swa_every == 0:
                    swa.update_parameters(accelerator.unwrap_model(model))
                train_seconds += time.perf_counter() - t0
                bar.update(1)
                if step in schedule:
                    res = val_eval(model)
                    eval_seconds += res.seconds
                    entry = {"index": len(members), "step": step, "epoch": epoch, "val": res.to_dict()}
                    if work is not None:
                        entry["file"] = f"member_{len(members):02d}.safetensors"
                        save_state(work / entry["file"], saved_state(accelerator.unwrap_model(model)), {"step": str(step)})
                    members.append(entry)
                    bar.set_postfix(loss=f"{res.loss:.3f}", **{task.primary_metric: f"{res.metrics[task.primary_metric]:.3f}"})
                    score = res.metrics[task.primary_metric]
                    best_score, since_best = (score, 0) if score > best_score else (best_score, since_best + 1)
                    if patience is not None and work is None and since_best >= patience:
                        stopped_early = True
    except BaseException:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        bar.close()

    info = {
        "key": request.key(),
        "request": request.identity(),
        "total_steps": total_steps,
        "member_steps": schedule,
        "members": members,
        "split_sizes": splits.sizes(),
        "params": params,
        "lora_rank": lora_rank(request),
        "costs": {
            "optimizer_steps": step,
            "examples": examples,
            "tokens": tokens,
            "train_seconds": train_seconds,
            "member_eval_seconds": eval_seconds,
            "flops_estimate": tokens * (2 * params["non_embedding"] + 4 * params["trainable_non_embedding"]),
            "device": str(dev),
            "mixed_precision": accelerator.mixed_precision,
            **peak_memory_mb(dev),
        },
    }
    if swa is None:
        info["stopped_early"] = stopped_early
        return Trajectory(folder=Path("."), info=info)
    swa_model = swa.module
    res = val_eval(swa_model)
    info["swa"] = {"file": "swa.safetensors", "n_averaged": int(swa.n_averaged.item()), "start_step": swa_start,
                   "every": cfg.swa_every, "val": res.to_dict()}
    save_state(work / "swa.safetensors", saved_state(swa_model), {"n_averaged": str(int(swa.n_averaged.item()))})
    write_json(work / "trajectory.json", info)
    try:
        os.rename(work, final)
    except OSError:
        # Another process finished the same trajectory first: theirs is identical; keep it.
        shutil.rmtree(work, ignore_errors=True)
    return Trajectory(folder=final, info=read_json(final / "trajectory.json"))


def _remove_stale_work(final: Path) -> None:
    """Delete half-built folders of this trajectory left by killed processes (dead pids)."""
    for stale in final.parent.glob(f".tmp-{final.name}-*"):
        try:
            pid = int(stale.name.rsplit("-", 1)[1])
            os.kill(pid, 0)  # raises if no such process: the folder is an orphan
        except ProcessLookupError:
            shutil.rmtree(stale, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


class _NoBar:
    def update(self, n: int = 1) -> None: ...
    def set_postfix(self, **kw) -> None: ...
    def close(self) -> None: ...


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


def evaluate_trajectory(traj: Trajectory, split_name: str = "test", device: str = "cpu") -> dict:
    """Loss and metrics of every member and the SWA average on ``split_name``; cached in the folder.

    This is the pipeline's (and CLI's) report, never an input to a fusion method.
    """
    cache = traj.folder / f"eval_{split_name}.json"
    if cache.exists():
        return read_json(cache)
    request = traj.request()
    model = build_model(request).to(device)
    evaluator = build_evaluator(request, split_name, device, mixed_precision=traj.info["costs"].get("mixed_precision"))
    expected = saved_state(model)
    out = {"members": [], "swa": None}
    for path in traj.member_files:
        load_saved_state(model, load_state(path, expected))
        out["members"].append(evaluator(model).to_dict())
    load_saved_state(model, load_state(traj.swa_file, expected))
    out["swa"] = evaluator(model).to_dict()
    write_json(cache, out)
    return out


def with_config(request: TrajectoryRequest, **changes) -> TrajectoryRequest:
    return replace(request, config=replace(request.config, **changes))


__all__ = [
    "TRAINER_VERSION", "TrainConfig", "TrajectoryRequest", "Trajectory", "member_steps", "train_trajectory",
    "load_trajectory", "evaluate_trajectory", "build_model", "build_evaluator", "lora_rank", "EvalResult",
]
