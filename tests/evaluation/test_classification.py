"""The evaluator's one pass equals a per-example computation, whatever the batching."""

import torch
import torch.nn.functional as F

from bomf.evaluation.classification import Evaluator
from bomf.models import get_model
from bomf.tasks import Split, get_task

TEXTS = ["a fine film", "dull", "one of the year's best , and longest , films", "meh .", "great fun", "awful awful"]
LABELS = [1, 0, 1, 0, 1, 0]


def test_loss_and_accuracy_match_a_one_by_one_computation():
    task, spec = get_task("rt-polarity"), get_model("tiny-bert")
    tok = spec.load_tokenizer()
    model = spec.build_classifier(2, seed=3).eval()
    res = Evaluator(task, tok, Split(TEXTS, None, LABELS), batch_size=4)(model)
    losses, correct = [], 0
    with torch.no_grad():
        for text, label in zip(TEXTS, LABELS):
            logits = model(**tok(text, return_tensors="pt")).logits
            losses.append(F.cross_entropy(logits, torch.tensor([label])).item())
            correct += int(logits.argmax(-1).item() == label)
    assert abs(res.loss - sum(losses) / len(losses)) < 1e-5
    assert res.metrics["accuracy"] == correct / len(TEXTS)
    assert res.n == len(TEXTS)


def test_batch_size_does_not_change_results():
    task, spec = get_task("rt-polarity"), get_model("tiny-bert")
    tok = spec.load_tokenizer()
    model = spec.build_classifier(2, seed=1)
    split = Split(TEXTS, None, LABELS)
    a, b = Evaluator(task, tok, split, batch_size=1)(model), Evaluator(task, tok, split, batch_size=64)(model)
    assert abs(a.loss - b.loss) < 1e-5 and a.metrics == b.metrics


def test_evaluation_leaves_training_mode_as_it_was():
    task, spec = get_task("rt-polarity"), get_model("tiny-bert")
    model = spec.build_classifier(2, seed=0).train()
    Evaluator(task, spec.load_tokenizer(), Split(TEXTS, None, LABELS))(model)
    assert model.training
