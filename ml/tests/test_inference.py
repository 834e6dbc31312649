from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from ml.serving.engine import STAGES, Engine, UnreadableScan
from ml.serving.runtime import ModelUnavailable
from ml.testing import mri_like, mri_like_png, write_tiny_artifacts


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return write_tiny_artifacts(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def engine(artifacts):
    return Engine.load(artifacts)


def _png_size(data: bytes) -> tuple[int, int]:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None
    return img.shape[1], img.shape[0]


def test_accepted_slice_gets_label_probabilities_and_risk(engine):
    result = engine.analyze(mri_like_png(160, seed=3))

    assert result.accepted
    assert result.gate_reason == ""
    assert result.label in engine.card.class_names
    assert sum(result.probabilities.values()) == pytest.approx(1.0)
    assert result.confidence == max(result.probabilities.values())
    assert result.tumour_probability == pytest.approx(1.0 - result.probabilities["notumor"])
    assert result.risk in {"low", "medium", "high"}
    assert result.model_sha256 == engine.sha256
    assert result.model_version == "tiny-test-0"


def test_heatmap_and_overlay_have_the_input_slice_size(engine):
    result = engine.analyze(mri_like_png(200, seed=5)[:])

    assert (result.width, result.height) == (200, 200)
    assert _png_size(result.heatmap_png) == (200, 200)
    assert _png_size(result.overlay_png) == (200, 200)
    assert 0.0 <= result.heatmap_inside_brain <= 1.0


def test_non_square_slice_keeps_its_size_in_the_overlay(engine):
    slice_ = cv2.resize(mri_like(160, seed=7), (180, 140))

    result = engine.analyze(cv2.imencode(".png", slice_)[1].tobytes())

    assert result.accepted
    assert _png_size(result.overlay_png) == (180, 140)


def test_explain_false_skips_heatmap_but_keeps_probabilities(engine):
    result = engine.analyze(mri_like_png(128, seed=2), explain=False)

    assert result.probabilities
    assert result.heatmap_png is None
    assert result.overlay_png is None
    assert result.timings_ms["gradcam"] == 0.0


def test_every_stage_is_timed(engine):
    result = engine.analyze(mri_like_png(128, seed=4))

    assert set(result.timings_ms) == set(STAGES)
    assert result.timings_ms["total"] >= result.timings_ms["model"] > 0.0


def test_analyses_leave_the_served_model_and_its_answers_unchanged(engine):
    model = engine.served.model
    weights_before = [w.copy() for w in model.get_weights()]
    first = engine.analyze(mri_like_png(128, seed=9))

    for seed in range(3):
        engine.analyze(mri_like_png(96, seed=seed))
    again = engine.analyze(mri_like_png(128, seed=9))

    assert all(
        np.array_equal(a, b) for a, b in zip(weights_before, model.get_weights(), strict=True)
    )
    assert again.probabilities == first.probabilities
    assert again.heatmap_png == first.heatmap_png


def test_array_input_gives_the_same_answer_as_png_bytes(engine):
    from_bytes = engine.analyze(mri_like_png(128, seed=8), explain=False)
    from_array = engine.analyze(mri_like(128, seed=8), explain=False)

    assert from_array.probabilities == pytest.approx(from_bytes.probabilities)


def test_rejected_scan_has_reason_and_no_diagnosis(engine):
    result = engine.analyze(np.zeros((128, 128), np.uint8))

    assert not result.accepted
    assert result.gate_reason.startswith("This does not look like a brain MRI slice")
    assert result.label is None
    assert result.probabilities == {}
    assert result.risk is None
    assert result.heatmap_png is None
    assert np.isfinite(result.gate_score)


@pytest.mark.parametrize("data", [b"", b"not an image", mri_like_png(64)[:40]])
def test_corrupt_bytes_raise_unreadable_scan(engine, data):
    with pytest.raises(UnreadableScan):
        engine.analyze(data)


def test_unreadable_scan_is_a_value_error():
    assert issubclass(UnreadableScan, ValueError)


def test_missing_model_is_unavailable(tmp_path):
    with pytest.raises(ModelUnavailable, match="not found"):
        Engine.load(tmp_path / "brainscan.keras")


def test_model_differing_from_its_card_is_refused(artifacts, tmp_path):
    card = json.loads((artifacts.parent / "model_card.json").read_text())
    card["sha256"] = "0" * 64
    (tmp_path / "card.json").write_text(json.dumps(card))

    with pytest.raises(ModelUnavailable, match="SHA-256"):
        Engine.load(artifacts, tmp_path / "card.json")


def test_missing_gate_statistics_are_refused(artifacts, tmp_path):
    with pytest.raises(ModelUnavailable, match="input-gate"):
        Engine.load(artifacts, gate_path=tmp_path / "gate.npz")


def test_corrupt_model_file_is_unavailable(artifacts, tmp_path):
    from ml.card import sha256_file

    broken = tmp_path / "brainscan.keras"
    broken.write_bytes(b"PK\x03\x04 definitely not a keras archive")
    card = json.loads((artifacts.parent / "model_card.json").read_text())
    card["sha256"] = sha256_file(broken)
    (tmp_path / "model_card.json").write_text(json.dumps(card))

    with pytest.raises(ModelUnavailable, match="cannot load"):
        Engine.load(broken)


def test_importing_the_module_does_not_load_tensorflow():
    # The web process imports ModelUnavailable/UnreadableScan; only workers need TensorFlow.
    code = "import sys, ml.serving.engine; sys.exit('tensorflow' in sys.modules)"

    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0


def test_bfloat16_is_a_graph_optimizer_switch_that_defaults_to_off(monkeypatch):
    import tensorflow as tf

    from ml.serving.runtime import BFLOAT16_ENV, configure_bfloat16

    monkeypatch.setenv(BFLOAT16_ENV, "1")
    assert configure_bfloat16() is True
    assert tf.config.optimizer.get_experimental_options()["auto_mixed_precision_onednn_bfloat16"]
    monkeypatch.delenv(BFLOAT16_ENV)
    assert configure_bfloat16() is False
    assert not tf.config.optimizer.get_experimental_options()[
        "auto_mixed_precision_onednn_bfloat16"
    ]
