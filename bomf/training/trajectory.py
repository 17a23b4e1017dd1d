"""Fine-tune once and collect K fusion members plus an SWA running average, cached by content.

One trajectory = a ``TrajectoryRequest`` (``training.request``: task, model, split limits,
training config, seed, data and weight fingerprints, device, trainer version). Its folder under
``<cache>/trajectories/<key>/`` holds ``member_XX.safetensors``, ``swa.safetensors`` and
``trajectory.json`` (member steps, per-member val loss and metrics and content hash, costs);
a member whose bytes no longer match its recorded hash is refused when loaded. The folder is built under a temporary name and renamed
into place when complete, so a killed run never leaves a folder that looks finished, and a
second identical request trains nothing.

``train_trajectory`` reads as its steps: ``_setup`` (data, model, optimizer, schedule),
``_train`` (the loop; ``_train_step`` is one optimizer step, ``_take_member`` one member),
``_finish`` (SWA, ``trajectory.json``, the rename into place).

Example:
    >>> from bomf.training.request import TrainConfig, TrajectoryRequest
    >>> req = TrajectoryRequest("rt-polarity", "minilm", seed=0, config=TrainConfig(epochs=1))
    >>> trajectory_folder(req).name == req.key()
    True
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel

from ..core.atomic import read_json, write_json
from ..core.device import (Precision, explain_out_of_memory, make_accelerator, peak_memory_mb, reset_peak_memory,
                           resolve_device, resolve_precision, say_fallback)
from ..core.errors import TrainingDivergedError
from ..core.paths import cache_dir
from ..evaluation import task_loss
from ..evaluation.generation import collate_lm, encode_generation, lm_loss
from ..models import count_parameters_for_flops, get_model
from ..models.lora import load_saved_state, saved_state
from ..tasks import SplitLimits, get_task
from ..tasks.encoding import collate, encode_split, length_grouped_batches
from .build import build_evaluator, build_model
from .checkpoint import load_state, save_state
from .degenerate import degenerate_reason
from .request import TrainConfig, TrajectoryRequest, lora_rank, member_steps


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
        """The members, each checked against the content hash recorded when it was saved."""
        return [load_state(p, expected, digest=m.get("sha256")) for p, m in zip(self.member_files, self.info["members"])]

    def load_swa(self, expected: dict | None = None) -> dict[str, torch.Tensor]:
        return load_state(self.swa_file, expected, digest=self.info["swa"].get("sha256"))

    def request(self) -> TrajectoryRequest:
        ident = self.info["request"]
        return TrajectoryRequest(
            task=ident["task"], model=ident["model"], seed=ident["seed"],
            config=TrainConfig(**ident["config"]), limits=SplitLimits(**ident["limits"]),
            device=ident.get("compute", {}).get("device", "auto"),
            precision={"bf16": "bf16", "no": "fp32"}.get(ident.get("compute", {}).get("precision"), "auto"),
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


@dataclass
class _Run:
    """Everything one fine-tuning run holds while it trains, and what it has counted so far."""

    request: TrajectoryRequest
    task: object
    spec: object
    splits: object
    train_enc: object
    accelerator: object
    precision: Precision
    model: torch.nn.Module
    params: dict
    val_eval: object
    total_steps: int
    schedule: list[int]
    optimizer: torch.optim.Optimizer
    scheduler: object
    swa: AveragedModel | None
    work: Path | None  # the folder being built (None: a stage-1 trial, nothing saved)
    members: list[dict] = field(default_factory=list)
    step: int = 0
    examples: int = 0
    tokens: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    stopped_early: bool = False

    @property
    def device(self) -> torch.device:
        return self.accelerator.device


def train_trajectory(request: TrajectoryRequest, device: str | None = None, progress: bool = False,
                     save_members: bool = True, patience: int | None = None, precision: str | None = None) -> Trajectory:
    """Fine-tune per ``request`` (or reuse the cached result) and return the trajectory.

    ``device`` and ``precision`` (None: the request's) are where and how it trains; both are part
    of the request's key.
    ``save_members=False`` (stage-1 trials) evaluates at the member steps but writes no weights
    and caches nothing; with ``patience`` it also stops once the primary val metric has not
    improved for that many evaluations (early stopping). Precision "auto" is bf16 autocast on a
    CUDA GPU with bf16, else float32; "fp32" or "bf16" (also on a CPU); weights stay float32.
    """
    request = request.on_device(device, precision)
    device = resolve_device(request.device)
    resolved = resolve_precision(device, request.precision)
    if save_members:
        cached = load_trajectory(request)
        if cached is not None:  # its key holds the device kind and the precision used
            return cached
    run = _setup(request, device, save_members, resolved)
    try:
        _train(run, progress, patience)
    except BaseException:
        if run.work is not None:
            shutil.rmtree(run.work, ignore_errors=True)
        raise
    return _finish(run)


def _setup(request: TrajectoryRequest, device: str, save_members: bool, precision: Precision) -> _Run:
    """Data, model, val evaluator, member schedule, optimizer and the folder being built."""
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

    say_fallback(precision, f"training {request.task}/{request.model}")
    accelerator = make_accelerator(device, precision)
    model = build_model(request)
    params = count_parameters_for_flops(model)
    val_eval = build_evaluator(request, "val", accelerator.device, splits=splits, tokenizer=tokenizer,
                               mixed_precision=accelerator.mixed_precision)

    total_steps = math.ceil(len(train_enc) / cfg.batch_size) * cfg.epochs
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)
    schedule = member_steps(total_steps, cfg.num_members, cfg.start_fraction)
    optimizer, scheduler = _optimizer(model, cfg, total_steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    swa = AveragedModel(accelerator.unwrap_model(model)) if save_members else None

    work = None
    if save_members:
        final = trajectory_folder(request)
        work = final.parent / f".tmp-{final.name}-{os.getpid()}"
        _remove_stale_work(final)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    return _Run(request=request, task=task, spec=spec, splits=splits, train_enc=train_enc, accelerator=accelerator,
                precision=precision, model=model, params=params, val_eval=val_eval, total_steps=total_steps, schedule=schedule,
                optimizer=optimizer, scheduler=scheduler, swa=swa, work=work)


def _optimizer(model: torch.nn.Module, cfg: TrainConfig, total_steps: int):
    """AdamW (no weight decay on biases and norms) with linear warm-up and decay."""
    from transformers import get_linear_schedule_with_warmup

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    return optimizer, scheduler


def _train(run: _Run, progress: bool, patience: int | None) -> None:
    """The loop: length-grouped batches per epoch, a member at each scheduled step."""
    request, cfg = run.request, run.request.config
    reset_peak_memory(run.device)
    bar = _progress(run.total_steps, f"train {request.task}/{request.model}/s{request.seed}", progress)
    run.model.train()
    best_score, since_best = -math.inf, 0
    try:
        for epoch in range(cfg.epochs):
            for idx in length_grouped_batches(run.train_enc.lengths(), cfg.batch_size, seed=request.seed * 1000 + epoch):
                if run.step >= run.total_steps or run.stopped_early:
                    break
                _train_step(run, idx)
                bar.update(1)
                if run.step in run.schedule:
                    res = _take_member(run, epoch)
                    bar.set_postfix(loss=f"{res.loss:.3f}",
                                    **{run.task.primary_metric: f"{res.metrics[run.task.primary_metric]:.3f}"})
                    score = res.metrics[run.task.primary_metric]
                    best_score, since_best = (score, 0) if score > best_score else (best_score, since_best + 1)
                    if patience is not None and run.work is None and since_best >= patience:
                        run.stopped_early = True
    finally:
        bar.close()


def _train_step(run: _Run, idx: list[int]) -> None:
    """One optimizer step on the examples ``idx`` (and the SWA update once its phase has begun)."""
    request, cfg, task, dev = run.request, run.request.config, run.task, run.device
    accelerator, model = run.accelerator, run.model
    t0 = time.perf_counter()
    with explain_out_of_memory(f"training {request.task}/{request.model}", "batch size", cfg.batch_size,
                               "--batch-size, or batch_size under [train] in a suite"):
        if task.is_generation:
            batch = {k: v.to(dev) for k, v in collate_lm(run.train_enc, idx).items()}
            with accelerator.autocast():
                loss = lm_loss(model, batch)
            n_tokens = batch["input_ids"].numel() + (batch["labels"].numel() if run.spec.arch == "seq2seq" else 0)
        else:
            label_dtype = torch.float32 if task.kind == "regression" else torch.long
            batch = {k: v.to(dev) for k, v in collate(run.train_enc, idx, label_dtype=label_dtype).items()}
            labels = batch.pop("labels")
            with accelerator.autocast():
                logits = model(**batch).logits
            loss = task_loss(task, logits, labels)
            n_tokens = batch["input_ids"].numel()
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"training {request.task}/{request.model} diverged (loss {loss.item()}) at step {run.step + 1} "
                f"with lr {cfg.lr}; lower the learning rate"
            )
        accelerator.backward(loss)
    if cfg.max_grad_norm:
        accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    run.step += 1
    run.examples += len(idx)
    run.tokens += n_tokens
    swa_start = run.schedule[0]
    if run.swa is not None and run.step >= swa_start and (run.step - swa_start) % cfg.swa_every == 0:
        run.swa.update_parameters(accelerator.unwrap_model(model))
    run.train_seconds += time.perf_counter() - t0


def _take_member(run: _Run, epoch: int):
    """Evaluate the model on val now and, when building a trajectory, save it as the next member."""
    classification = run.task.kind == "classification"
    with explain_out_of_memory("evaluating a member on val", "eval batch size", run.request.config.eval_batch_size,
                               "--eval-batch-size, or eval_batch_size under [train] in a suite"):
        res = run.val_eval(run.model, keep_predictions=True) if classification else run.val_eval(run.model)
    run.eval_seconds += res.seconds
    predictions = None
    if classification:  # count the classes predicted (a degenerate run predicts one), store no predictions
        predictions = res.extra.pop("predictions")
        res.extra.pop("labels")
    entry = {"index": len(run.members), "step": run.step, "epoch": epoch, "val": res.to_dict()}
    if predictions is not None:
        entry["predicted_classes"] = len(set(predictions))
    if run.work is not None:
        entry["file"] = f"member_{len(run.members):02d}.safetensors"
        entry["sha256"] = save_state(run.work / entry["file"], saved_state(run.accelerator.unwrap_model(run.model)),
                                     {"step": str(run.step)})
    run.members.append(entry)
    return res


def _finish(run: _Run) -> Trajectory:
    """The trajectory's info; for a saved trajectory also the SWA average and the rename into place."""
    request, dev = run.request, run.device
    info = {
        "key": request.key(),
        "request": request.identity(),
        "total_steps": run.total_steps,
        "member_steps": run.schedule,
        "members": run.members,
        "split_sizes": run.splits.sizes(),
        "params": run.params,
        "lora_rank": lora_rank(request),
        "costs": {
            "optimizer_steps": run.step,
            "examples": run.examples,
            "tokens": run.tokens,
            "train_seconds": run.train_seconds,
            "member_eval_seconds": run.eval_seconds,
            "flops_estimate": run.tokens * (2 * run.params["non_embedding"] + 4 * run.params["trainable_non_embedding"]),
            "device": str(dev),
            "mixed_precision": run.accelerator.mixed_precision,
            "precision": run.precision.name,  # "bf16" (autocast; weights float32) or "fp32"
            "precision_fallback": run.precision.fallback,  # why not bf16 where bf16 was asked for
            **peak_memory_mb(dev),
        },
    }
    if run.swa is None:
        info["stopped_early"] = run.stopped_early
        return Trajectory(folder=Path("."), info=info)
    info["degenerate"] = degenerate_reason([m["val"]["metrics"] for m in run.members], run.task.primary_metric,
                                           [m.get("predicted_classes") for m in run.members])
    if info["degenerate"]:
        logging.getLogger("bomf").warning(
            f"degenerate trajectory {request.task}/{request.model} seed {request.seed}: {info['degenerate']}; "
            "its fusions are flagged in the tables and left out of their comparisons and ranks")
    swa_model, work = run.swa.module, run.work
    res = run.val_eval(swa_model)
    n_averaged = int(run.swa.n_averaged.item())
    info["swa"] = {"file": "swa.safetensors", "n_averaged": n_averaged, "start_step": run.schedule[0],
                   "every": request.config.swa_every, "val": res.to_dict()}
    info["swa"]["sha256"] = save_state(work / "swa.safetensors", saved_state(swa_model), {"n_averaged": str(n_averaged)})
    write_json(work / "trajectory.json", info)
    final = trajectory_folder(request)
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


def evaluate_trajectory(traj: Trajectory, split_name: str = "test", device: str = "auto") -> dict:
    """Loss and metrics of every member and the SWA average on ``split_name``; cached in the folder.

    Scored at the trajectory's precision (as its members were on val), on ``device``.
    This is the pipeline's (and CLI's) report, never an input to a fusion method.
    """
    cache = traj.folder / f"eval_{split_name}.json"
    if cache.exists():
        return read_json(cache)
    device = resolve_device(device)
    precision = resolve_precision(device, traj.info["costs"].get("mixed_precision"))
    say_fallback(precision, f"scoring trajectory {traj.info['key']} on {split_name}")
    request = traj.request()
    model = build_model(request).to(device)
    evaluator = build_evaluator(request, split_name, device, mixed_precision=precision.mixed_precision)
    expected = saved_state(model)
    out = {"members": [], "swa": None}
    for state in traj.load_members(expected):
        load_saved_state(model, state)
        out["members"].append(evaluator(model).to_dict())
    load_saved_state(model, traj.load_swa(expected))
    out["swa"] = evaluator(model).to_dict()
    write_json(cache, out)
    return out


__all__ = ["Trajectory", "trajectory_folder", "load_trajectory", "train_trajectory", "evaluate_trajectory"]
