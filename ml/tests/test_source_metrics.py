"""Per-source metrics with intervals over people."""

from __future__ import annotations

import numpy as np
import pytest

from ml.metrics.sources import cluster_bootstrap_ci, source_metrics

TH = {"medium": 0.2, "high": 0.5}


def test_people_not_slices_set_the_interval_width():
    # 4 people with 50 identical slices each: 2 right, 2 wrong. Resampling slices would
    # give a narrow interval around 0.5; resampling people must give a wide one.
    correct = np.repeat([1.0, 1.0, 0.0, 0.0], 50)
    people = np.repeat(["a", "b", "c", "d"], 50)
    ci = cluster_bootstrap_ci(lambda idx: {"acc": correct[idx].mean()}, people, n_resamples=400)
    lo, hi = ci["acc"]
    assert lo <= 0.25
    assert hi >= 0.75


def test_a_resample_takes_every_slice_of_a_drawn_person():
    people = np.array(["a"] * 3 + ["b"] * 7)
    sizes: set[int] = set()

    def statistic(idx: np.ndarray) -> dict[str, float | None]:
        sizes.add(len(idx))
        return {"n": len(idx)}

    cluster_bootstrap_ci(statistic, people, n_resamples=50)
    assert sizes <= {6, 10, 14}


def _probs(tumour_p: np.ndarray) -> np.ndarray:
    # classes: glioma, meningioma, notumor, pituitary
    p = np.zeros((len(tumour_p), 4))
    p[:, 0] = tumour_p
    p[:, 2] = 1 - tumour_p
    return p


def test_gate_refusals_are_counted_apart_not_dropped():
    y = np.array([0, 0, 0, 0])
    probs = _probs(np.array([0.9, 0.9, 0.1, 0.1]))
    accepted = np.array([True, True, False, False])
    m = source_metrics(y, probs, accepted, ["p1", "p1", "p2", "p2"], TH, 2, n_resamples=50)
    assert m["slices"] == 4
    assert m["analysed"] == 2
    assert m["people"] == 2
    assert m["gate_pass"]["value"] == 0.5
    assert m["analysed_metrics"]["tumour_sensitivity_medium"]["value"] == 1.0
    assert m["model_alone"]["tumour_sensitivity_medium"]["value"] == 0.5
    assert m["model_alone"]["specificity_medium"]["value"] is None  # no normals here


def test_normal_source_reports_specificity_at_both_thresholds():
    y = np.full(3, 2)
    probs = _probs(np.array([0.1, 0.3, 0.6]))
    m = source_metrics(y, probs, np.ones(3, bool), ["a", "b", "c"], TH, 2, n_resamples=50)
    assert m["model_alone"]["specificity_medium"]["value"] == pytest.approx(1 / 3)
    assert m["model_alone"]["specificity_high"]["value"] == pytest.approx(2 / 3)
    assert m["model_alone"]["tumour_sensitivity_medium"]["value"] is None
    assert m["model_alone"]["ece"]["value"] is not None
