"""Task splits: sizes, disjointness, determinism, label schemas, and failure messages."""

import pytest

from bomf.core.errors import BomfError
from bomf.tasks import Split, SplitLimits, Splits, Task, carve_val, get_task
from bomf.tasks.aclsum_qnli import ASPECT_QUESTIONS, papers_to_pairs
from bomf.tasks.conll2010 import parse_rows as parse_conll_rows
from bomf.tasks.rt_polarity import parse_rows


def test_rt_polarity_rows_are_parsed_with_bom_and_signed_labels():
    raw = '\ufeff"1","a fine film ."\n"-1","dull , dull , dull"\n'.encode("utf-8")
    assert parse_rows(raw) == [("a fine film .", 1), ("dull , dull , dull", 0)]


def test_rt_polarity_split_is_fixed_disjoint_and_balanced():
    task = get_task("rt-polarity")
    a, b = task.load_splits(), task.load_splits()
    assert a.sizes() == {"train": 3000, "val": 500, "test": 500}
    assert list(a.val.text_a) == list(b.val.text_a) and list(a.test.labels) == list(b.test.labels)
    train, val, test = set(a.train.text_a), set(a.val.text_a), set(a.test.text_a)
    # The corpus has a handful of duplicate sentences; splits are disjoint by row, so allow a few.
    assert len(train & test) <= 5 and len(val & test) <= 5
    assert 0.45 < sum(a.test.labels) / 500 < 0.55
    assert set(a.train.labels) == {0, 1}


def test_aclsum_pairs_follow_the_highlights():
    paper = {
        "sentences": {"abstract": ["s1", "s2"], "introduction": ["s3"], "conclusion": []},
        "highlights": {
            "challenge": {"abstract": [1, 0], "introduction": [0], "conclusion": []},
            "approach": {"abstract": [0, 1], "introduction": [1], "conclusion": []},
            "outcome": {"abstract": [0, 0], "introduction": [0], "conclusion": []},
        },
    }
    split = papers_to_pairs([paper])
    assert len(split) == 9  # 3 aspects x 3 sentences
    pairs = list(zip(split.text_a, split.text_b, split.labels))
    assert (ASPECT_QUESTIONS["challenge"], "s1", 1) in pairs
    assert (ASPECT_QUESTIONS["approach"], "s3", 1) in pairs
    assert sum(split.labels) == 3
    assert split.clusters == ["paper 0"] * 9  # every pair of a paper is one cluster


def test_aclsum_qnli_real_splits_are_sized_and_imbalanced():
    task = get_task("aclsum-qnli")
    full = task.load()
    assert len(full.train) > 10000 and len(full.val) > 5000 and len(full.test) > 10000
    capped = task.load_splits()
    assert capped.sizes() == {"train": 4000, "val": 1000, "test": 2000}
    assert 0.08 < sum(capped.test.labels) / len(capped.test) < 0.2
    assert task.primary_metric == "f1" and "accuracy" in task.metrics
    # test pairs are clustered by paper (each sentence three times): about 100 papers
    assert task.cluster_unit == "paper" and 90 <= len(set(capped.test.clusters)) <= 100
    assert len(capped.test.clusters) == len(capped.test)


def test_conll2010_rows_are_unescaped_deduplicated_and_uncertain_is_one():
    raw = '\ufeff"1","Pope Benedict XII"\r\n"-1","Some say it is &quot;odd&quot;."\r\n"1","Pope Benedict XII"'
    assert parse_conll_rows(raw.encode("utf-8")) == [("Pope Benedict XII", 0), ('Some say it is "odd".', 1)]


def test_conll2010_split_is_fixed_disjoint_balanced_and_has_1500_test_sentences():
    task = get_task("conll2010-uncertainty")
    a, b = task.load_splits(), task.load_splits()
    assert a.sizes() == {"train": 957, "val": 500, "test": 1500}
    assert list(a.test.text_a) == list(b.test.text_a) and list(a.val.labels) == list(b.val.labels)
    train, val, test = set(a.train.text_a), set(a.val.text_a), set(a.test.text_a)
    assert not (train & test) and not (val & test) and not (train & val)  # repeats were dropped
    assert 0.45 < sum(a.test.labels) / 1500 < 0.55 and set(a.train.labels) == {0, 1}
    assert task.primary_metric == "matthews" and task.label_names == ("certain", "uncertain")


def test_carve_val_is_deterministic_disjoint_and_complete():
    split = Split(text_a=[f"t{i}" for i in range(20)], text_b=None, labels=[i % 2 for i in range(20)])
    tr1, va1 = carve_val(split, 5, seed=3)
    tr2, va2 = carve_val(split, 5, seed=3)
    assert list(va1.text_a) == list(va2.text_a)
    assert len(va1) == 5 and len(tr1) == 15
    assert set(tr1.text_a) | set(va1.text_a) == set(split.text_a) and not set(tr1.text_a) & set(va1.text_a)
    assert list(carve_val(split, 5, seed=4)[1].text_a) != list(va1.text_a)


def _toy_task(labels_val):
    def load():
        tr = Split(text_a=["a", "b"], text_b=None, labels=[0, 1])
        va = Split(text_a=["c"] * len(labels_val), text_b=None, labels=labels_val)
        return Splits(tr, va, tr)

    return Task(name="toy", kind="classification", num_labels=2, metrics=("accuracy",), primary_metric="accuracy",
                load=load, source="offline", description="toy")


def test_single_class_or_empty_split_is_rejected_with_a_clear_message():
    with pytest.raises(BomfError, match="single class"):
        _toy_task([1, 1, 1]).load_splits()
    with pytest.raises(BomfError, match="empty"):
        _toy_task([]).load_splits()


def test_unknown_task_names_the_known_ones():
    with pytest.raises(BomfError, match="unknown task 'nope'.*rt-polarity"):
        get_task("nope")


def test_limits_subsample_with_a_fixed_seed():
    task = get_task("rt-polarity")
    a = task.load_splits(SplitLimits(train=100, val=50, test=None))
    b = task.load_splits(SplitLimits(train=100, val=50, test=None))
    assert a.sizes() == {"train": 100, "val": 50, "test": 500}
    assert list(a.train.text_a) == list(b.train.text_a)
