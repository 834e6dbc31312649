from __future__ import annotations

import numpy as np
import pytest

from ml.metrics.classification import (
    bootstrap_ci,
    confusion_matrix,
    per_class_prf,
    point_metrics,
    roc_auc,
    roc_curve,
    sensitivity_specificity,
)


def test_confusion_matrix_rows_are_truth_columns_are_predictions():
    cm = confusion_matrix(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]), 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])


def test_precision_recall_f1_by_hand():
    cm = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    prf = per_class_prf(cm)
    np.testing.assert_allclose(prf["precision"], [0.5, 2 / 3, 0.0])
    np.testing.assert_allclose(prf["recall"], [0.5, 1.0, 0.0])
    np.testing.assert_allclose(prf["f1"], [0.5, 0.8, 0.0])


def test_auc_matches_the_textbook_example_and_handles_ties():
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert np.isnan(roc_auc(np.array([1, 1]), np.array([0.2, 0.3])))


def test_roc_curve_runs_from_origin_to_one_one():
    fpr, tpr = roc_curve(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    assert (fpr[0], tpr[0]) == (0.0, 0.0)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    # trapezoid area equals the rank-based AUC
    assert np.trapezoid(tpr, fpr) == pytest.approx(0.75)


def test_sensitivity_and_specificity_by_hand():
    sens, spec = sensitivity_specificity(
        np.array([1, 1, 1, 1, 0, 0]).astype(bool), np.array([1, 1, 1, 0, 1, 0]).astype(bool)
    )
    assert sens == pytest.approx(0.75)
    assert spec == pytest.approx(0.5)


def test_point_metrics_tumour_score_is_one_minus_normal_probability():
    probs = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]])  # class 1 = normal
    m = point_metrics(np.array([0, 1, 1]), probs, normal_index=1, threshold=0.5)
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["tumour_sensitivity"] == 1.0  # the tumour image has tumour score 0.7
    assert m["tumour_specificity"] == 0.5  # one normal image scores 0.6 >= 0.5


def test_bootstrap_interval_brackets_the_estimate_and_shrinks_with_n():
    rng = np.random.default_rng(0)

    def width(n):
        hits = rng.random(n) < 0.8
        ci = bootstrap_ci(lambda idx: {"acc": float(hits[idx].mean())}, n, n_resamples=400)
        lo, hi = ci["acc"]
        assert lo <= hits.mean() <= hi
        return hi - lo

    assert width(2000) < width(100)


def test_bootstrap_of_a_constant_is_a_point():
    ci = bootstrap_ci(lambda idx: {"x": 1.0}, 10, n_resamples=50)
    assert ci["x"] == (1.0, 1.0)


def test_roc_curve_is_empty_when_only_one_class_is_present():
    fpr, tpr = roc_curve(np.array([1, 1]), np.array([0.2, 0.9]))
    assert fpr.size == 0
    assert tpr.size == 0
