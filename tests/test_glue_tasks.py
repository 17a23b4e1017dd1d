"""GLUE loaders on local fixtures in the Hub schema; offline use fails fast with one line."""

import json
from pathlib import Path

import pytest

from bomf import hub
from bomf.errors import OfflineError
from bomf.tasks import TASKS, SplitLimits, get_task
from bomf.tasks.glue import GLUE

FIXTURES = Path(__file__).parent / "fixtures" / "glue"


def _rows(config, split):
    return [json.loads(line) for line in (FIXTURES / config / f"{split}.jsonl").read_text().splitlines()]


@pytest.fixture
def local_glue(monkeypatch):
    monkeypatch.setenv("BOMF_GLUE_DIR", str(FIXTURES))


def test_rte_carves_val_from_train_and_reports_validation_as_test(local_glue):
    splits = get_task("rte").load_splits(SplitLimits())
    train_rows, val_rows = _rows("rte", "train"), _rows("rte", "validation")
    assert len(splits.val) == 6 and len(splits.train) == 54  # 10% of 60
    assert list(splits.test.text_a) == [r["sentence1"] for r in val_rows]
    assert list(splits.test.text_b) == [r["sentence2"] for r in val_rows]
    assert list(splits.test.labels) == [r["label"] for r in val_rows]
    pairs = lambda s: set(zip(s.text_a, s.text_b))  # noqa: E731
    assert not pairs(splits.train) & pairs(splits.val)
    assert pairs(splits.train) | pairs(splits.val) == {(r["sentence1"], r["sentence2"]) for r in train_rows}
    again = get_task("rte").load_splits(SplitLimits())
    assert list(again.val.text_a) == list(splits.val.text_a)


def test_label_schemas(local_glue):
    stsb = get_task("stsb")
    s = stsb.load_splits(SplitLimits())
    assert stsb.kind == "regression" and stsb.num_labels == 1 and all(isinstance(v, float) for v in s.train.labels)
    mnli = get_task("mnli").load_splits(SplitLimits())
    assert list(mnli.test.text_a) == [r["premise"] for r in _rows("mnli", "validation_matched")]
    assert set(mnli.train.labels) == {0, 1, 2}
    assert get_task("cola").primary_metric == "matthews" and get_task("cola").load_splits(SplitLimits()).train.text_b is None


def test_every_glue_task_is_registered_from_the_hub():
    for name in GLUE:
        task = TASKS.get(name)
        assert task.source == "hub" and task.primary_metric in task.metrics
    assert get_task("mrpc").metrics == ("accuracy", "f1")


def test_offline_glue_fails_with_one_line_naming_offline_tasks(monkeypatch):
    monkeypatch.delenv("BOMF_GLUE_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError) as err:
        get_task("rte").load_splits()
    msg = str(err.value)
    assert "\n" not in msg and "rt-polarity" in msg and "glue/rte" in msg


def test_offline_flag_is_honoured_without_a_probe(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub.socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(AssertionError("probed")))
    assert hub.hub_offline()


def test_hub_model_offline_fails_with_one_line(monkeypatch):
    from bomf.models import get_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="minilm"):
        get_model("roberta-base").build_classifier(2, seed=0)
