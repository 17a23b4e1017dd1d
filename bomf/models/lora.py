"""LoRA adapters through peft, and which tensors a trajectory saves and fuses.

A LoRA model trains (and its trajectory saves) only the adapter tensors (``lora_A``/``lora_B``);
the pre-trained base stays frozen and identical in every member, so the checkpoint pool fuses
the adapters alone. The stage-1 proxy of a LoRA model is the same model with a smaller rank.

Example:
    >>> from bomf.models import get_model
    >>> m = apply_lora(get_model("tiny-llama").build_generator(seed=0), rank=2, targets=("q_proj",), seed=0)
    >>> names = fused_names(m)
    >>> len(names), all("lora_" in n for n in names)
    (4, True)
"""

from __future__ import annotations

import torch

from ..core.errors import BomfError


def is_peft(model: torch.nn.Module) -> bool:
    try:
        from peft import PeftModel
    except ImportError:  # peft is a dependency, but keep encoders usable without it
        return False
    return isinstance(model, PeftModel)


def apply_lora(model: torch.nn.Module, rank: int, targets: tuple[str, ...], seed: int, alpha: float | None = None,
               dropout: float = 0.0) -> torch.nn.Module:
    """Wrap ``model`` with LoRA adapters of ``rank`` on the ``targets`` modules (base frozen).

    ``alpha`` defaults to 2 x rank (a common choice); the adapters' A matrices are initialised
    from ``seed``, B at zero, so training starts from the pre-trained model exactly.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    if rank < 1:
        raise BomfError(f"LoRA rank must be at least 1, got {rank}")
    if not targets:
        raise BomfError("LoRA needs target modules (e.g. q_proj, v_proj); set lora_targets for this model")
    task_type = TaskType.SEQ_2_SEQ_LM if model.config.is_encoder_decoder else TaskType.CAUSAL_LM
    config = LoraConfig(r=rank, lora_alpha=alpha if alpha is not None else 2 * rank, lora_dropout=dropout,
                        target_modules=list(targets), task_type=task_type, bias="none")
    torch.manual_seed(seed)
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise BomfError(f"cannot attach LoRA to {type(model).__name__} ({str(exc).splitlines()[0]}); "
                        "fix lora_targets") from exc


def fused_names(model: torch.nn.Module) -> list[str]:
    """Names of the tensors a trajectory saves and a pool fuses: the adapters of a LoRA model,
    every floating-point tensor otherwise."""
    state = model.state_dict()
    if is_peft(model):
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        return [n for n in state if n in trainable or "lora_" in n]
    return [n for n, t in state.items() if t.is_floating_point()]


def saved_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """What a member checkpoint holds: the adapters only for LoRA models, the full state otherwise."""
    state = model.state_dict()
    if is_peft(model):
        return {n: state[n] for n in fused_names(model)}
    return state


def load_saved_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Put a member (full or adapter-only) into ``model``; every tensor of ``state`` must be used."""
    result = model.load_state_dict(state, strict=not is_peft(model))
    if result.unexpected_keys:
        raise BomfError(f"checkpoint tensor {result.unexpected_keys[0]} does not belong to this model; "
                        "use members of the same model")
