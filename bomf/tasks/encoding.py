"""Tokenise a split once; build length-grouped training batches and length-sorted eval batches.

Dynamic padding: a batch is padded to its own longest example, not to a fixed length, and
examples of similar length are batched together so little padding is computed at all.

Example:
    >>> enc = EncodedSplit(input_ids=[[101, 7, 102], [101, 102]], token_type_ids=None, labels=[1, 0], pad_id=0)
    >>> collate(enc, [0, 1])["input_ids"].tolist()
    [[101, 7, 102], [101, 102, 0]]
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import torch

from .base import Split


@dataclass
class EncodedSplit:
    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    labels: Sequence[int | float]
    pad_id: int

    def __len__(self) -> int:
        return len(self.input_ids)

    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]

    def num_tokens(self) -> int:
        return sum(self.lengths())


def encode_split(tokenizer, split: Split, max_length: int) -> EncodedSplit:
    """Tokenise every example once (truncated to ``max_length``, not padded)."""
    args = (list(split.text_a),) if split.text_b is None else (list(split.text_a), list(split.text_b))
    out = tokenizer(*args, truncation=True, max_length=max_length, padding=False)
    return EncodedSplit(
        input_ids=out["input_ids"],
        token_type_ids=out.get("token_type_ids"),
        labels=list(split.labels),
        pad_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
    )


def collate(enc: EncodedSplit, idx: Sequence[int], pad_to: int | None = None, label_dtype=None) -> dict[str, torch.Tensor]:
    """Pad the examples ``idx`` to their longest length (or to ``pad_to``) into model inputs."""
    width = pad_to or max(len(enc.input_ids[i]) for i in idx)
    ids = torch.full((len(idx), width), enc.pad_id, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    types = torch.zeros((len(idx), width), dtype=torch.long) if enc.token_type_ids is not None else None
    for row, i in enumerate(idx):
        seq = enc.input_ids[i][:width]
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
        if types is not None:
            types[row, : len(seq)] = torch.tensor(enc.token_type_ids[i][:width])
    batch = {"input_ids": ids, "attention_mask": mask}
    if types is not None:
        batch["token_type_ids"] = types
    labels = [enc.labels[i] for i in idx]
    if label_dtype is None:
        label_dtype = torch.float32 if isinstance(labels[0], float) else torch.long
    batch["labels"] = torch.tensor(labels, dtype=label_dtype)
    return batch


def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: int, mega_factor: int = 50) -> list[list[int]]:
    """Shuffled training batches of similar-length examples (HF ``LengthGroupedSampler`` rule).

    Shuffle, cut into mega-batches of ``mega_factor * batch_size``, sort each by length, cut into
    batches, then shuffle the batch order. Deterministic in ``seed``.
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = mega_factor * batch_size
    batches: list[list[int]] = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda i: -lengths[i])
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Evaluation batches in order of decreasing length (least padding; order-independent metrics)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[j : j + batch_size] for j in range(0, len(order), batch_size)]
