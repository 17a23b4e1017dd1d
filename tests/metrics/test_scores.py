"""Metrics against values computed by hand."""

import math

import pytest

from bomf.metrics.scores import accuracy, compute_metrics, f1, macro_f1, matthews, pearson, spearman

PRED = [1, 1, 0, 0, 1, 0, 1, 0]
GOLD = [1, 0, 0, 1, 1, 0, 1, 1]
# tp = 3 (idx 0,4,6), fp = 1 (idx 1), fn = 2 (idx 3,7), tn = 2 (idx 2,5)


def test_accuracy_by_hand():
    assert accuracy(PRED, GOLD) == pytest.approx(5 / 8)


def test_f1_of_positive_class_by_hand():
    precision, recall = 3 / 4, 3 / 5
    assert f1(PRED, GOLD) == pytest.approx(2 * precision * recall / (precision + recall))


def test_macro_f1_by_hand():
    f1_pos = 2 * (3 / 4) * (3 / 5) / (3 / 4 + 3 / 5)
    f1_neg = 2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3)  # negatives: tp=2, fp=2 (pred 0, gold 1), fn=1
    assert macro_f1(PRED, GOLD) == pytest.approx((f1_pos + f1_neg) / 2)


def test_matthews_by_hand():
    tp, tn, fp, fn = 3, 2, 1, 2
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert matthews(PRED, GOLD) == pytest.approx(mcc)


def test_f1_with_no_predicted_positive_is_zero():
    assert f1([0, 0, 0], [1, 0, 1]) == 0.0


def test_pearson_and_spearman_by_hand():
    x, y = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 5.0, 4.0]
    mx, my = 2.5, 3.75
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y))
    r = cov / math.sqrt(sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y))
    assert pearson(x, y) == pytest.approx(r)
    # ranks of y with ties averaged: 2->1, 4->2.5, 5->4, 4->2.5 ; ranks of x: 1..4
    ry, rx = [1, 2.5, 4, 2.5], [1, 2, 3, 4]
    mrx, mry = 2.5, 2.5
    cov = sum((a - mrx) * (b - mry) for a, b in zip(rx, ry))
    rho = cov / math.sqrt(sum((a - mrx) ** 2 for a in rx) * sum((b - mry) ** 2 for b in ry))
    assert spearman(x, y) == pytest.approx(rho)


def test_constant_predictions_score_zero_correlation_not_nan():
    assert pearson([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) == 0.0


def test_compute_metrics_keeps_order_and_names():
    out = compute_metrics(("f1", "accuracy"), PRED, GOLD)
    assert list(out) == ["f1", "accuracy"] and out["accuracy"] == pytest.approx(5 / 8)
