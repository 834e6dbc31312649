from __future__ import annotations

import numpy as np

from ml.metrics.thresholds import MEDIUM_CAP, choose_thresholds, describe


def test_medium_threshold_keeps_target_sensitivity_and_high_is_at_least_half():
    rng = np.random.default_rng(0)
    tumour = rng.beta(8, 1, 1000)  # mostly high scores, a few low
    normal = rng.beta(1, 30, 300)
    scores = np.concatenate([tumour, normal])
    is_tumour = np.r_[np.ones(1000, bool), np.zeros(300, bool)]
    t = choose_thresholds(scores, is_tumour)
    assert (tumour >= t["medium"]).mean() >= 0.995
    assert t["medium"] <= MEDIUM_CAP
    assert t["high"] >= 0.5
    assert t["high"] >= t["medium"]
    d = describe(scores, is_tumour, t)
    assert d["at_medium"]["sensitivity"] >= 0.995


def test_confident_model_gets_the_capped_medium_threshold():
    scores = np.r_[np.full(200, 0.99), np.full(200, 0.01)]
    is_tumour = np.r_[np.ones(200, bool), np.zeros(200, bool)]
    t = choose_thresholds(scores, is_tumour)
    assert t == {"medium": MEDIUM_CAP, "high": 0.5}


def test_high_threshold_rises_when_normals_score_high():
    scores = np.r_[np.full(100, 0.99), np.linspace(0.0, 0.9, 100)]
    is_tumour = np.r_[np.ones(100, bool), np.zeros(100, bool)]
    t = choose_thresholds(scores, is_tumour)
    assert t["high"] > 0.85
    assert (np.linspace(0.0, 0.9, 100) < t["high"]).mean() >= 0.99
