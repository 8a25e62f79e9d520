"""Tests for colorizer.evaluation.ab_accuracy (hand-computed values)."""

import numpy as np
import pytest

from colorizer.evaluation import ab_accuracy


# ------------------------------------------------------------------------ AuC
def test_ab_error_auc_identical_is_one():
    ab = np.random.default_rng(3).uniform(-100, 100, size=(2, 5, 5, 2))
    assert ab_accuracy.ab_error_auc(ab, ab) == pytest.approx(1.0, abs=1e-12)


def test_ab_error_auc_constant_error():
    truth = np.zeros((2, 4, 4, 2))
    pred = truth + np.array([45.0, 60.0])  # |d| = 75 exactly
    # F(t) = 0 for t = 0..74 and 1 for t = 75..150. Trapezoid: 0.5 on [74, 75]
    # plus 75 unit intervals -> 75.5 / 150.
    assert ab_accuracy.ab_error_auc(pred, truth) == pytest.approx(75.5 / 150.0, abs=1e-12)
    assert ab_accuracy.ab_error_auc(truth + 200.0, truth) == 0.0
    # Half the pixels perfect, half off by 75: average of 1 and 75.5 / 150.
    mixed = pred.copy()
    mixed[0] = 0.0
    assert ab_accuracy.ab_error_auc(mixed, truth) == pytest.approx((1.0 + 75.5 / 150.0) / 2, abs=1e-12)


def test_ab_error_auc_errors():
    with pytest.raises(ValueError):
        ab_accuracy.ab_error_auc(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError):
        ab_accuracy.ab_error_auc(np.zeros((2, 2)), np.zeros((2, 2)), num_thresholds=1)


# ------------------------------------------------------------- pixel accuracy
def test_pixel_accuracy_constructed():
    truth = np.full((1, 2, 2, 3), 0.5)
    pred = truth.copy()
    pred[0, 0, 1, 0] += 0.015  # within 0.02 -> still correct
    pred[0, 1, 0, 2] -= 0.03  # one channel outside -> wrong pixel
    pred[0, 1, 1] += 0.1  # all channels outside -> wrong pixel
    assert ab_accuracy.pixel_accuracy(pred, truth) == pytest.approx(0.5)
    assert ab_accuracy.pixel_accuracy(pred, truth, threshold_fraction=0.05) == pytest.approx(0.75)
    # Per-channel ranges (Nazeri's Lab convention: L 100, a/b 220).
    lab_true = np.zeros((4, 3))
    lab_pred = np.array([[1.9, 4.3, -4.3], [2.1, 0, 0], [0, 4.5, 0], [0, 0, 0]])
    assert ab_accuracy.pixel_accuracy(lab_pred, lab_true, value_range=(100, 220, 220)) == 0.5
    with pytest.raises(ValueError):
        ab_accuracy.pixel_accuracy(lab_pred, lab_true, value_range=(100, 220))
    with pytest.raises(ValueError):
        ab_accuracy.pixel_accuracy(lab_pred, lab_true[:2])
