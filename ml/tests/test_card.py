from __future__ import annotations

import json

import numpy as np
import pytest

from ml.card import calibrated_probabilities, load_card, risk_level, sha256_file


def test_risk_levels_follow_the_documented_rule():
    t = {"medium": 0.1, "high": 0.5}
    assert risk_level(0.0999, t) == "low"
    assert risk_level(0.1, t) == "medium"
    assert risk_level(0.4999, t) == "medium"
    assert risk_level(0.5, t) == "high"


def test_temperature_one_is_plain_softmax():
    p = calibrated_probabilities(np.array([0.0, np.log(3.0)]), 1.0)
    np.testing.assert_allclose(p, [0.25, 0.75])


def test_higher_temperature_flattens_and_keeps_argmax():
    logits = np.array([[2.0, 0.0, -1.0, 5.0]])
    sharp = calibrated_probabilities(logits, 1.0)
    soft = calibrated_probabilities(logits, 2.0)
    assert soft.max() < sharp.max()
    assert soft.argmax() == sharp.argmax() == 3
    np.testing.assert_allclose(soft.sum(axis=-1), 1.0)


def test_huge_logits_do_not_overflow():
    p = calibrated_probabilities(np.array([1000.0, 0.0]), 0.5)
    assert np.isfinite(p).all()
    assert p[0] == pytest.approx(1.0)


def test_load_card_reads_fields_and_keeps_extras(tmp_path):
    (tmp_path / "m.keras").write_bytes(b"abc")
    card = {
        "version": "brainscan-cnn-1.0.0",
        "file": "m.keras",
        "sha256": sha256_file(tmp_path / "m.keras"),
        "architecture": "cnn",
        "input_size": 128,
        "channels": 1,
        "class_names": ["glioma", "meningioma", "notumor", "pituitary"],
        "normal_class": "notumor",
        "temperature": 1.5,
        "risk_thresholds": {"medium": 0.05, "high": 0.5},
        "last_conv_layer": "last_conv",
        "metrics": {"test": {"accuracy": 0.9}},
    }
    (tmp_path / "model_card.json").write_text(json.dumps(card))
    loaded = load_card(tmp_path / "model_card.json")
    assert loaded.model_path == tmp_path / "m.keras"
    assert loaded.normal_index == 2
    assert loaded.extra["metrics"]["test"]["accuracy"] == 0.9
    # sha256 of b"abc", a published test vector
    assert loaded.sha256.startswith("ba7816bf8f01cfea")


def test_load_card_names_a_missing_key(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"version": "x"}))
    with pytest.raises(ValueError, match="'file'"):
        load_card(tmp_path / "c.json")
