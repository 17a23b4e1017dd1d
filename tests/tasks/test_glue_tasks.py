"""GLUE loaders on local fixtures in the Hub schema; offline use fails fast with one line."""

import json
import shutil
from pathlib import Path

import pytest

from bomf.core import hub
from bomf.core.errors import OfflineError
from bomf.tasks import TASKS, SplitLimits, get_task
from bomf.tasks.glue import GLUE, load_glue

FIXTURES = Path(__file__).parent.parent / "fixtures" / "glue"


def _rows(config, split, root=FIXTURES):
    return [json.loads(line) for line in (root / config / f"{split}.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture
def local_glue(monkeypatch):
    monkeypatch.setenv("BOMF_GLUE_DIR", str(FIXTURES))


def test_rte_carves_val_from_train_and_reports_validation_as_test(local_glue):
    splits = get_task("rte").load_splits(SplitLimits())
    train_rows, val_rows = _rows("rte", "train"), _rows("rte", "validation")
    assert len(train_rows) == 60
    assert len(splits.val) == 6 and len(splits.train) == 54  # 10% of 60 (cap 2000 not reached)
    # Official validation is the test split, unchanged and in order.
    assert list(splits.test.text_a) == [r["sentence1"] for r in val_rows]
    assert list(splits.test.text_b) == [r["sentence2"] for r in val_rows]
    assert list(splits.test.labels) == [r["label"] for r in val_rows]
    # Train and val partition the official train split (by idx, via the fixture's unique pairs).
    idx_of = {(r["sentence1"], r["sentence2"]): r["idx"] for r in train_rows}
    assert len(idx_of) == len(train_rows)
    train_idx = {idx_of[p] for p in zip(splits.train.text_a, splits.train.text_b)}
    val_idx = {idx_of[p] for p in zip(splits.val.text_a, splits.val.text_b)}
    assert not train_idx & val_idx and train_idx | val_idx == {r["idx"] for r in train_rows}
    # Labels travel with their texts.
    label_of = {(r["sentence1"], r["sentence2"]): r["label"] for r in train_rows}
    assert list(splits.val.labels) == [label_of[p] for p in zip(splits.val.text_a, splits.val.text_b)]
    # Deterministic.
    again = get_task("rte").load_splits(SplitLimits())
    assert (list(again.val.text_a), list(again.train.labels)) == (list(splits.val.text_a), list(splits.train.labels))


def test_val_is_capped_at_2000(monkeypatch, tmp_path):
    rows = [{"sentence": f"s{i}", "label": i % 2, "idx": i} for i in range(25_000)]
    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "sst2" / "validation.jsonl").write_text("\n".join(json.dumps(r) for r in rows[:10]))
    monkeypatch.setenv("BOMF_GLUE_DIR", str(tmp_path))
    assert get_task("sst2").load_splits(SplitLimits()).sizes() == {"train": 23_000, "val": 2000, "test": 10}


def test_label_schemas(local_glue):
    stsb = get_task("stsb")
    s = stsb.load_splits(SplitLimits())
    assert stsb.kind == "regression" and stsb.num_labels == 1
    assert all(isinstance(v, float) for v in [*s.train.labels, *s.val.labels, *s.test.labels])
    assert list(s.test.labels) == [float(r["label"]) for r in _rows("stsb", "validation")]

    mnli_task = get_task("mnli")
    mnli = mnli_task.load_splits(SplitLimits())
    matched = _rows("mnli", "validation_matched")
    assert list(mnli.test.text_a) == [r["premise"] for r in matched]
    assert list(mnli.test.text_b) == [r["hypothesis"] for r in matched]
    assert set(mnli.train.labels) == {0, 1, 2} and mnli_task.num_labels == 3 and len(mnli_task.label_names) == 3

    cola = get_task("cola")
    assert cola.primary_metric == "matthews" and cola.metrics == ("matthews",)
    c = cola.load_splits(SplitLimits())
    assert c.train.text_b is None and all(isinstance(v, int) for v in c.train.labels)
    assert list(c.test.text_a) == [r["sentence"] for r in _rows("cola", "validation")]


def test_hidden_labels_are_dropped(monkeypatch, tmp_path):
    shutil.copytree(FIXTURES / "rte", tmp_path / "rte")
    rows = _rows("rte", "validation") + [{"sentence1": "x", "sentence2": "y", "label": -1, "idx": 99}]
    (tmp_path / "rte" / "validation.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    monkeypatch.setenv("BOMF_GLUE_DIR", str(tmp_path))
    test = get_task("rte").load_splits(SplitLimits()).test
    assert len(test) == len(rows) - 1 and -1 not in test.labels


def test_cache_is_keyed_on_the_directory(monkeypatch, tmp_path, local_glue):
    first = get_task("rte").load_splits(SplitLimits())
    shutil.copytree(FIXTURES / "rte", tmp_path / "rte")
    rows = _rows("rte", "validation")[:4]
    (tmp_path / "rte" / "validation.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    monkeypatch.setenv("BOMF_GLUE_DIR", str(tmp_path))
    assert len(get_task("rte").load_splits(SplitLimits()).test) == 4 != len(first.test)
    # The explicit argument wins over the environment.
    assert len(load_glue("rte", data_dir=str(FIXTURES))["validation"]) == len(first.test)


def test_every_glue_task_is_registered_from_the_hub():
    assert set(GLUE) == {"rte", "mrpc", "sst2", "qnli", "cola", "stsb", "qqp", "mnli"}
    for name in GLUE:
        task = TASKS.get(name)
        assert task.source == "hub" and task.primary_metric in task.metrics and task.max_length == 128
        assert task.kind == "regression" or task.num_labels == len(task.label_names)
    assert get_task("mrpc").metrics == ("accuracy", "f1") and get_task("mrpc").primary_metric == "accuracy"
    assert get_task("qqp").metrics == ("accuracy", "f1")
    assert get_task("stsb").metrics == ("pearson", "spearman") and get_task("stsb").primary_metric == "pearson"


def test_offline_glue_fails_with_one_line_naming_offline_tasks(monkeypatch):
    monkeypatch.delenv("BOMF_GLUE_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError) as err:
        get_task("rte").load_splits()
    msg = str(err.value)
    assert "\n" not in msg and "glue/rte" in msg
    offered = msg.split("use an offline task (")[1].split(")")[0].split(", ")
    assert "rt-polarity" in offered
    assert sorted(offered) == sorted(name for name, task in TASKS if task.source == "offline")  # no hub tasks


def test_offline_flag_is_honoured_without_a_probe(monkeypatch):
    def no_probe(*args, **kwargs):
        raise AssertionError("probed the network although HF_HUB_OFFLINE=1")

    monkeypatch.setattr(hub, "_probe_result", None)
    monkeypatch.setattr(hub.socket, "create_connection", no_probe)
    for value in ("1", "true", "TRUE"):
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
        assert hub.hub_offline()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    assert hub.hub_offline()


def test_probe_result_is_cached(monkeypatch):
    calls = []

    def refuse(*args, **kwargs):
        calls.append(kwargs.get("timeout", args[1] if len(args) > 1 else None))
        raise OSError("unreachable")

    for var in hub.OFFLINE_FLAGS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hub, "_probe_result", None)
    monkeypatch.setattr(hub.socket, "create_connection", refuse)
    assert hub.hub_offline() and hub.hub_offline()
    assert calls == [2.0]


def test_hub_model_offline_fails_with_one_line(monkeypatch):
    from bomf.models import get_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="minilm"):
        get_model("roberta-base").build_classifier(2, seed=0)
