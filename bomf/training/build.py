"""Build what a trajectory starts from: the model (head, LoRA, proxy freezing) and its evaluators.

Example:
    >>> from bomf.training.request import TrainConfig, TrajectoryRequest
    >>> req = TrajectoryRequest("rt-polarity", "tiny-bert", seed=0, config=TrainConfig(freeze_layers=1))
    >>> model = build_model(req)
    >>> type(model).__name__, model.config.num_labels
    ('BertForSequenceClassification', 2)
"""

from __future__ import annotations

from ..core.errors import BomfError
from ..evaluation.factory import make_evaluator
from ..models import freeze_bottom_layers, get_model
from ..models.lora import apply_lora
from ..tasks import get_task
from .request import TrajectoryRequest, lora_rank


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
