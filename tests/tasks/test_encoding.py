"""Tokenised batches: dynamic padding, length grouping, coverage and determinism."""

from bomf.tasks.encoding import EncodedSplit, collate, length_grouped_batches, sorted_batches


def _enc():
    return EncodedSplit(input_ids=[[1, 5, 2], [1, 2], [1, 5, 6, 7, 2]], token_type_ids=[[0, 0, 0], [0, 0], [0, 0, 0, 1, 1]],
                        labels=[1, 0, 1], pad_id=0)


def test_collate_pads_to_the_longest_in_the_batch_only():
    b = collate(_enc(), [0, 1])
    assert b["input_ids"].tolist() == [[1, 5, 2], [1, 2, 0]]
    assert b["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert b["labels"].tolist() == [1, 0]
    assert collate(_enc(), [2, 0])["token_type_ids"].tolist() == [[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]]


def test_collate_pad_to_fixed_length():
    assert collate(_enc(), [1], pad_to=4)["input_ids"].tolist() == [[1, 2, 0, 0]]


def test_length_grouped_batches_cover_every_example_once_and_are_seeded():
    lengths = [(i * 37) % 61 + 1 for i in range(1000)]
    batches = length_grouped_batches(lengths, 16, seed=0)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(1000))
    assert batches == length_grouped_batches(lengths, 16, seed=0)
    assert batches != length_grouped_batches(lengths, 16, seed=1)
    # Grouping: padding waste far below that of random batches.
    waste = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)
    import random

    order = list(range(1000))
    random.Random(0).shuffle(order)
    rand = [order[j:j + 16] for j in range(0, 1000, 16)]
    waste_rand = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in rand)
    assert waste < 0.2 * waste_rand


def test_sorted_batches_are_longest_first():
    assert sorted_batches([3, 9, 1, 9], 2) == [[1, 3], [0, 2]]
