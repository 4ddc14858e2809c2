"""The metrics table: accuracy, UAR, macro-F1, calibration, temperature (ser_img.report.metrics)."""

from __future__ import annotations

import numpy as np
import pytest

from ser_img.members.heads import softmax
from ser_img.report.metrics import (
    ECE_BINS,
    calibration,
    confusion_png,
    fit_temperature,
    reliability,
    reliability_png,
    report,
    summary,
)


def test_uar_weighs_each_present_class_equally_where_accuracy_does_not():
    scores = summary(np.array([0, 0, 0, 1]), np.array([0, 0, 0, 0]))
    assert scores["n"] == 4 and scores["accuracy"] == 0.75 and scores["uar"] == 0.5
    assert scores["macro_f1"] == pytest.approx((6 / 7 + 0) / 2)  # over the classes present, 0 and 1


def test_probabilities_add_calibration_and_confident_right_answers_are_perfect():
    labels = np.array([2, 5, 7])
    sure = np.eye(8)[labels]
    scores = summary(labels, sure)
    assert scores["accuracy"] == 1.0 and scores["brier"] == 0.0 and scores["ece"] == 0.0
    assert scores["log_loss"] == pytest.approx(0.0, abs=1e-9)
    uniform = calibration(labels, np.full((3, 8), 1 / 8))
    assert uniform["log_loss"] == pytest.approx(np.log(8))
    assert uniform["brier"] == pytest.approx(7 / 64 + (7 / 8) ** 2)


def test_reliability_bins_hold_confidence_and_accuracy():
    probabilities = np.full((4, 8), 0.01)
    probabilities[:, 0] = 0.93  # top class 0, confidence 0.93
    bins = reliability(np.array([0, 0, 0, 1]), probabilities)
    (only,) = bins
    assert (only["low"], only["high"]) == pytest.approx((0.9, 1.0)) and only["n"] == 4
    assert only["confidence"] == pytest.approx(0.93) and only["accuracy"] == 0.75
    assert calibration(np.array([0, 0, 0, 1]), probabilities)["ece"] == pytest.approx(0.18)
    assert ECE_BINS == 10


def test_fit_temperature_recovers_how_overconfident_logits_are():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(scale=2.0, size=(4000, 8))
    labels = np.array([rng.choice(8, p=p) for p in softmax(true_logits)])
    assert fit_temperature(3.0 * true_logits, labels) == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(true_logits, labels) == pytest.approx(1.0, rel=0.1)


def test_report_has_every_class_and_the_confusion_matrix():
    truth, predicted = np.array([0, 1, 1, 3]), np.array([0, 1, 3, 3])
    scores = report(truth, predicted)
    matrix = np.array(scores["confusion_matrix"])
    assert matrix.shape == (8, 8) and matrix.sum() == 4 and matrix[1, 3] == 1 and matrix[1, 1] == 1
    assert scores["per_class"][scores["labels"][1]]["support"] == 2
    assert scores["per_class"][scores["labels"][1]]["recall"] == 0.5


def test_figures_are_rgb_images():
    truth = np.array([0, 1, 2, 2])
    matrix = report(truth, np.array([0, 1, 2, 1]))["confusion_matrix"]
    for image in (confusion_png(matrix, "confusion"), reliability_png(truth, np.eye(8)[truth] * 0.9 + 0.0125, "rel")):
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8 and image.std() > 0
