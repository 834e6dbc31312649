from __future__ import annotations

import numpy as np
import pytest

from ml.metrics.calibration import (
    brier_score,
    calibration_summary,
    expected_calibration_error,
    fit_temperature,
    nll,
    reliability_bins,
)


def test_ece_by_hand():
    probs = np.array([[0.9, 0.1], [0.6, 0.4]])
    labels = np.array([0, 1])  # first right at 0.9, second wrong at 0.6
    assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(
        0.5 * 0.1 + 0.5 * 0.6
    )


def test_perfectly_calibrated_bins_have_zero_ece():
    probs = np.array([[0.75, 0.25]] * 4)
    labels = np.array([0, 0, 0, 1])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0)


def test_reliability_bins_count_every_prediction_once():
    probs = np.array([[1.0, 0.0], [0.5, 0.5], [0.55, 0.45]])
    bins = reliability_bins(probs, np.array([0, 1, 0]), n_bins=10)
    assert sum(b["count"] for b in bins) == 3
    assert bins[-1]["count"] == 1  # confidence 1.0 lands in the top bin


def test_brier_by_hand():
    assert brier_score(np.array([[1.0, 0.0]]), np.array([0])) == 0.0
    assert brier_score(np.array([[0.5, 0.5]]), np.array([0])) == pytest.approx(0.5)
    assert brier_score(np.array([[0.0, 1.0]]), np.array([0])) == pytest.approx(2.0)


def test_nll_of_uniform_prediction_is_log_k():
    assert nll(np.zeros((3, 4)), np.array([0, 1, 2])) == pytest.approx(np.log(4))


def test_fit_temperature_recovers_overconfidence_factor():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, (4000, 4))
    p = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(4, p=row) for row in p])
    overconfident = 3.0 * true_logits
    assert fit_temperature(overconfident, labels) == pytest.approx(3.0, rel=0.1)


def test_temperature_scaling_improves_an_overconfident_model():
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 1.5, (3000, 4))
    p = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(4, p=row) for row in p])
    logits = 4.0 * true_logits
    s = calibration_summary(logits, labels, fit_temperature(logits, labels))
    assert s["ece_after"] < s["ece_before"]
    assert s["brier_after"] < s["brier_before"]
    assert s["nll_after"] < s["nll_before"]
