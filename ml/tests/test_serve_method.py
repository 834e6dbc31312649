"""Re-issuing the shipped weights with another preprocessing method (ml.cli.serve_method)."""

from __future__ import annotations

import json

import pytest

from ml.card import sha256_file
from ml.cli.markdown import _card_model
from ml.cli.serve_method import main, serve_with

CARD = {
    "version": "brainscan-cnn-2.0.0",
    "file": "brainscan.keras",
    "preprocessing_method": "crop-rank-v2",
    "preprocessing": "old text",
    "temperature": 1.3,
}


def test_the_new_card_names_the_method_the_version_and_what_the_weights_were_trained_with():
    new = serve_with(CARD, "crop-rank-v3", "brainscan-cnn-2.0.1", "Widened windows.")
    assert new["version"] == "brainscan-cnn-2.0.1"
    assert new["preprocessing_method"] == "crop-rank-v3"
    assert "background" in new["preprocessing"]
    change = new["serving_change"]
    assert change["from_version"] == "brainscan-cnn-2.0.0"
    assert change["weights_trained_with"] == "crop-rank-v2"
    assert any("gate fit" in step for step in change["next_steps"])
    assert CARD["version"] == "brainscan-cnn-2.0.0"  # the input is not changed
    # a second change keeps what the weights were trained with
    again = serve_with(new, "crop-rank-v2", "brainscan-cnn-2.0.2", "Back.")
    assert again["serving_change"]["weights_trained_with"] == "crop-rank-v2"


def test_the_same_method_or_the_same_version_is_refused():
    with pytest.raises(ValueError, match="already served"):
        serve_with(CARD, "crop-rank-v2", "brainscan-cnn-2.0.1", "x")
    with pytest.raises(ValueError, match="new version"):
        serve_with(CARD, "crop-rank-v3", "brainscan-cnn-2.0.0", "x")


def test_the_command_refuses_a_card_that_does_not_describe_the_file(tmp_path):
    model = tmp_path / "brainscan.keras"
    model.write_bytes(b"weights")
    card = tmp_path / "model_card.json"
    card.write_text(json.dumps({**CARD, "sha256": "0" * 64}))
    args = ["--method", "crop-rank-v3", "--version", "brainscan-cnn-2.0.1", "--reason", "r"]
    with pytest.raises(SystemExit, match="SHA-256"):
        main([*args, "--card", str(card)])
    card.write_text(json.dumps({**CARD, "sha256": sha256_file(model)}))
    main([*args, "--card", str(card)])
    assert json.loads(card.read_text())["preprocessing_method"] == "crop-rank-v3"


def test_the_model_section_of_the_card_says_how_the_weights_are_served():
    card = serve_with(CARD, "crop-rank-v3", "brainscan-cnn-2.0.1", "Widened windows.")
    card |= {
        "architecture": "cnn",
        "parameters": 10,
        "input_size": 128,
        "class_names": ["glioma", "notumor"],
        "training": {
            "config": {"label_smoothing": 0.05},
            "batchnorm_recalibration": {"val_accuracy_before": 0.9, "val_accuracy_after": 0.91},
            "loss": "categorical cross-entropy, label smoothing 0.05, balanced",
        },
    }
    text = _card_model(card)
    assert "Served since" in text
    assert "trained with `crop-rank-v2` inputs" in text
    assert "Widened windows." in text
