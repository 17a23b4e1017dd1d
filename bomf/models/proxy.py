"""The lightweight proxy of stage 1: freeze the bottom N transformer layers (and embeddings).

Works for any model whose transformer blocks sit in one ``nn.ModuleList`` whose length is
``config.num_hidden_layers`` (BERT/RoBERTa ``encoder.layer``, Llama ``model.layers``, ...).

Example:
    >>> from bomf.models import get_model
    >>> m = get_model("tiny-bert-4l").build_classifier(num_labels=2, seed=0)
    >>> frozen = freeze_bottom_layers(m, 2)
    >>> all(not p.requires_grad for p in m.bert.encoder.layer[1].parameters())
    True
"""

from __future__ import annotations

from torch import nn

from ..core.errors import BomfError


def find_layer_list(model: nn.Module) -> nn.ModuleList:
    n_layers = getattr(model.config, "num_hidden_layers", None)
    candidates = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) == n_layers]
    if not candidates:
        raise BomfError(f"cannot find the transformer layers of {type(model).__name__}; the freeze proxy needs them")
    return candidates[0]


def find_embeddings(model: nn.Module) -> nn.Module:
    base = getattr(model, "base_model", model)
    for attr in ("embeddings", "embed_tokens", "shared", "wte"):
        if hasattr(base, attr):
            return getattr(base, attr)
    return model.get_input_embeddings()


def freeze_bottom_layers(model: nn.Module, n: int) -> int:
    """Freeze the embeddings and the bottom ``n`` layers; return the number of frozen parameters.

    ``n == 0`` freezes nothing. ``n`` equal to the layer count leaves only the head trainable
    (the paper notes the proxy's optimum stops aligning there).
    """
    if n <= 0:
        return 0
    layers = find_layer_list(model)
    if n > len(layers):
        raise BomfError(f"cannot freeze {n} layers of a {len(layers)}-layer model; choose 0..{len(layers)}")
    frozen = 0
    for module in [find_embeddings(model), *layers[:n]]:
        for p in module.parameters():
            if p.requires_grad:
                p.requires_grad_(False)
                frozen += p.numel()
    return frozen


def count_parameters_for_flops(model: nn.Module) -> dict[str, int]:
    """Parameter counts for the FLOPs estimate (embedding lookups are not matmuls).

    Training FLOPs ~ tokens x (2 x non_embedding + 4 x trainable_non_embedding): the forward
    pass touches every layer, the backward pass only the layers above the frozen ones.
    Attention's quadratic term is ignored (short sequences here).
    """
    emb_params = list(find_embeddings(model).parameters())
    emb_ids = {id(p) for p in emb_params}
    total = sum(p.numel() for p in model.parameters())
    embedding = sum(p.numel() for p in emb_params)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    trainable_non_emb = sum(p.numel() for p in model.parameters() if p.requires_grad and id(p) not in emb_ids)
    return {
        "total": total,
        "trainable": trainable,
        "embedding": embedding,
        "non_embedding": total - embedding,
        "trainable_non_embedding": trainable_non_emb,
    }
