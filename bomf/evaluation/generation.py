"""Generation tasks: encode prompts and targets, teacher-forced loss, batched greedy decoding.

Loss = token cross-entropy of the target given the prompt (teacher forcing), summed over the
split's target tokens and divided by their number. Metrics come from greedy decoding with at
most ``task.max_new_tokens`` new tokens, scored by ``bomf.metrics`` after the no-answer string
is mapped to "". Causal LMs see ``prompt + target + eos`` (the loss ignores the prompt) and
decode from left-padded prompts; seq2seq LMs encode the prompt and decode the target.
Instruct models get the prompt through their chat template.

Every batch is built once, when the evaluator is built (as for classification): the BO loop
re-evaluates the same val split with different fused weights.

Example:
    >>> from bomf.tasks import get_task, Split
    >>> from bomf.models import get_model
    >>> task, spec = get_task("aclsum-summ"), get_model("tiny-t5")
    >>> split = Split(["Summarize: the cat sat.", "Summarize: a dog ran far."], None, ["cat sat.", "dog ran."])
    >>> ev = GenerationEvaluator(task, spec, spec.load_tokenizer(), split, batch_size=2, max_new_tokens=4)
    >>> res = ev(spec.build_generator(seed=0))
    >>> sorted(res.metrics), res.n, res.loss > 0
    (['rouge1', 'rouge2', 'rougeLsum'], 2, True)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from ..core.errors import BomfError
from ..metrics.text import example_scores, mean_scores
from ..tasks.base import Split, Task
from ..tasks.encoding import sorted_batches
from .base import EvalResult, SplitEvaluator

IGNORE = -100
CHAT_DATE = "01 Jan 2025"


@dataclass
class EncodedGeneration:
    """Token ids of every prompt and target of a split (unpadded) and the raw references."""

    prompt_ids: list[list[int]]
    target_ids: list[list[int]]
    references: list
    pad_id: int
    eos_id: int
    arch: str  # "causal" | "seq2seq"

    def __len__(self) -> int:
        return len(self.prompt_ids)

    def lengths(self) -> list[int]:
        if self.arch == "causal":
            return [len(p) + len(t) for p, t in zip(self.prompt_ids, self.target_ids)]
        return [len(p) for p in self.prompt_ids]

    def num_tokens(self) -> int:
        return sum(len(p) + len(t) for p, t in zip(self.prompt_ids, self.target_ids))


def special_ids(tokenizer) -> tuple[int, int]:
    """(pad, eos) ids; WordPiece tokenizers end sequences with [SEP] and have no eos token."""
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    if eos is None:
        raise BomfError("the tokenizer has neither an eos nor a sep token; generation needs one to stop")
    return pad, eos


def _prompt_ids(tokenizer, spec, text: str, max_length: int) -> list[int]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) > max_length:  # truncate the instruction's content, never the template around it
        text = tokenizer.decode(ids[:max_length])
    if spec.arch == "seq2seq":
        return tokenizer(text, truncation=True, max_length=max_length + 2)["input_ids"]
    if spec.chat_template and getattr(tokenizer, "chat_template", None):
        # A fixed date: Llama 3's template otherwise writes today's date into every prompt.
        chat = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True,
                                             tokenize=False, date_string=CHAT_DATE)
        return tokenizer(chat, add_special_tokens=False)["input_ids"]
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    return bos + tokenizer(text + "\n", add_special_tokens=False)["input_ids"]


def encode_generation(task: Task, spec, tokenizer, split: Split, max_length: int,
                      max_target_length: int | None = None) -> EncodedGeneration:
    """Tokenise every prompt (truncated to ``max_length`` content tokens) and target (+ eos)."""
    pad, eos = special_ids(tokenizer)
    max_t = max_target_length or task.max_target_length
    prompts = [_prompt_ids(tokenizer, spec, src, max_length) for src in split.text_a]
    targets = [tokenizer(task.target(label), add_special_tokens=False)["input_ids"][:max_t] + [eos]
               for label in split.labels]
    return EncodedGeneration(prompts, targets, list(split.labels), pad, eos, spec.arch)


def collate_lm(enc: EncodedGeneration, idx: Sequence[int]) -> dict[str, torch.Tensor]:
    """Teacher-forcing batch, right-padded: causal ``prompt + target`` with the prompt's labels
    ignored; seq2seq prompt as encoder input and target as labels."""
    if enc.arch == "causal":
        seqs = [enc.prompt_ids[i] + enc.target_ids[i] for i in idx]
        labs = [[IGNORE] * len(enc.prompt_ids[i]) + enc.target_ids[i] for i in idx]
        ids, mask = _pad(seqs, enc.pad_id, left=False)
        labels, _ = _pad(labs, IGNORE, left=False)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}
    ids, mask = _pad([enc.prompt_ids[i] for i in idx], enc.pad_id, left=False)
    labels, _ = _pad([enc.target_ids[i] for i in idx], IGNORE, left=False)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def collate_prompts(enc: EncodedGeneration, idx: Sequence[int]) -> dict[str, torch.Tensor]:
    """Prompt batch for decoding: left-padded for causal LMs (new tokens follow the last real
    token of every row), right-padded for seq2seq encoders."""
    ids, mask = _pad([enc.prompt_ids[i] for i in idx], enc.pad_id, left=enc.arch == "causal")
    return {"input_ids": ids, "attention_mask": mask}


def _pad(seqs: list[list[int]], value: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), value, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        if left:
            ids[row, width - len(s):] = torch.tensor(s, dtype=torch.long)
            mask[row, width - len(s):] = 1
        else:
            ids[row, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[row, : len(s)] = 1
    return ids, mask


def _base(model: torch.nn.Module) -> torch.nn.Module:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def lm_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor], reduction: str = "mean", forward=None):
    """Token cross-entropy of the targets; ``reduction="sum"`` returns (sum, number of tokens).

    ``forward`` replaces ``model(**inputs)`` (the learned soup's functional call).
    """
    forward = forward or model
    labels = batch["labels"]
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if _base(model).config.is_encoder_decoder:
        inputs["decoder_input_ids"] = _base(model).prepare_decoder_input_ids_from_labels(labels=labels)
        logits = forward(**inputs).logits
    else:
        logits = forward(**inputs).logits[:, :-1]
        labels = labels[:, 1:]
    total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                            ignore_index=IGNORE, reduction="sum")
    count = int((labels != IGNORE).sum())
    if reduction == "sum":
        return total, count
    return total / max(count, 1)


@torch.inference_mode()
def greedy_decode(model: torch.nn.Module, batch: dict[str, torch.Tensor], max_new_tokens: int, pad_id: int,
                  eos_id: int) -> list[list[int]]:
    """Greedy continuation of each prompt, cut after the first eos (which is dropped)."""
    from transformers import GenerationConfig

    # An explicit config: generate() would otherwise merge the model's own defaults (Qwen's
    # instruct models ship a repetition penalty and sampling settings), and this must be greedy.
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1, repetition_penalty=1.0,
                              pad_token_id=pad_id, eos_token_id=eos_id)
    out = model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], generation_config=config)
    if not _base(model).config.is_encoder_decoder:
        out = out[:, batch["input_ids"].shape[1]:]
    seqs = []
    for row in out.tolist():
        if _base(model).config.is_encoder_decoder and row and row[0] == _base(model).config.decoder_start_token_id:
            row = row[1:]
        cut = row.index(eos_id) if eos_id in row else len(row)
        seqs.append([t for t in row[:cut] if t != pad_id])
    return seqs


class GenerationEvaluator(SplitEvaluator):
    """Loss and metrics of a generator on one fixed split (the ``Evaluator`` of generation tasks).

    ``batches`` are the teacher-forcing batches (for gradient-based soups); decoding batches are
    separate (prompts only). ``max_new_tokens`` defaults to the task's bound.
    """

    def __init__(self, task: Task, spec, tokenizer, split: Split, batch_size: int = 8, max_length: int | None = None,
                 device: str | torch.device = "cpu", split_name: str | None = None,
                 max_target_length: int | None = None, max_new_tokens: int | None = None,
                 mixed_precision: str | None = None):
        self.task, self.spec, self.tokenizer = task, spec, tokenizer
        self.mixed_precision = mixed_precision
        self.split_name = split_name
        self.device = torch.device(device)
        self.encoded = enc = encode_generation(task, spec, tokenizer, split, max_length or task.max_length,
                                               max_target_length)
        self.labels = list(enc.references)
        self.max_new_tokens = max_new_tokens or task.max_new_tokens
        self._batches = [{k: v.to(self.device) for k, v in collate_lm(enc, idx).items()}
                         for idx in sorted_batches(enc.lengths(), batch_size)]
        self._order: list[int] = []
        self._prompt_batches = []
        for idx in sorted_batches([len(p) for p in enc.prompt_ids], batch_size):
            self._order.extend(idx)
            self._prompt_batches.append({k: v.to(self.device) for k, v in collate_prompts(enc, idx).items()})
        self.tokens = enc.num_tokens()

    def batch_loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor], forward=None) -> torch.Tensor:
        """Mean target-token loss of one batch (differentiable)."""
        return lm_loss(model, batch, forward=forward)

    def generate(self, model: torch.nn.Module) -> list[str]:
        """Decoded predictions in split order, cleaned as they are scored."""
        texts: list[str] = []
        for batch in self._prompt_batches:
            with self.precision():
                seqs = greedy_decode(model, batch, self.max_new_tokens, self.encoded.pad_id, self.encoded.eos_id)
            for ids in seqs:
                texts.append(self.task.clean_prediction(self.tokenizer.decode(ids, skip_special_tokens=True)))
        preds = [""] * len(texts)
        for pos, i in enumerate(self._order):
            preds[i] = texts[pos]
        return preds

    @torch.inference_mode()
    def __call__(self, model: torch.nn.Module, keep_predictions: bool = False) -> EvalResult:
        start = time.perf_counter()
        was_training = model.training
        model.eval()
        loss_sum, count = 0.0, 0
        for batch in self._batches:
            with self.precision():
                s, c = lm_loss(model, batch, reduction="sum")
            loss_sum += float(s)
            count += c
        preds = self.generate(model)
        if was_training:
            model.train()
        scores = example_scores(self.task.metrics, preds, self.labels)
        extra = {"predictions": preds, "labels": self.labels, "example_scores": scores} if keep_predictions else {}
        return EvalResult(loss=loss_sum / max(count, 1), metrics=mean_scores(scores), n=len(preds),
                          seconds=time.perf_counter() - start, tokens=self.tokens, extra=extra)
