"""The class-conditional source adversary (ml.training.adversary): the reversal, the ramp,
the batches, and a training run that exports the classifier alone."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from ml import CLASS_NAMES
from ml.card import read_card
from ml.cli.train import main as train_main
from ml.data.sources import IXI, KAGGLE_FIGSHARE, KAGGLE_OTHER
from ml.networks import build_model
from ml.tests.test_train_smoke import _write_fake_dataset
from ml.training.adversary import (
    SOURCES,
    GradientReversal,
    build_trainer,
    classifier_history,
    ramp,
    source_indices,
)


def test_reversal_passes_values_and_turns_the_gradient_by_its_strength():
    layer = GradientReversal()
    layer.build((2, 3))
    layer.strength.assign(0.7)
    x = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        total = tf.reduce_sum(y * tf.constant([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(y.numpy(), x.numpy(), atol=1e-6)
    np.testing.assert_allclose(tape.gradient(total, x).numpy()[0], [-0.7, -1.4, -2.1], atol=1e-6)


def test_ramp_starts_at_zero_and_reaches_its_maximum():
    assert ramp(0.0, 0.5) == 0.0
    assert 0.49 < ramp(0.5, 0.5) <= 0.5
    assert ramp(0.1, 0.5) < ramp(0.2, 0.5) < ramp(1.0, 0.5)


def test_sources_are_indexed_and_an_unknown_one_refused():
    assert source_indices([IXI, KAGGLE_FIGSHARE, KAGGLE_OTHER]).tolist() == [
        SOURCES.index(IXI),
        SOURCES.index(KAGGLE_FIGSHARE),
        SOURCES.index(KAGGLE_OTHER),
    ]
    with pytest.raises(ValueError, match="brats"):
        source_indices(["brats"])


def test_trainer_shares_the_classifiers_layers():
    classifier = build_model("cnn_small", 32, len(CLASS_NAMES))
    trainer = build_trainer(classifier, len(CLASS_NAMES))
    x = np.random.default_rng(0).random((2, 32, 32, 1)).astype(np.float32)
    onehot = np.eye(len(CLASS_NAMES), dtype=np.float32)[[0, 2]]
    out = trainer([x, onehot], training=False)
    np.testing.assert_allclose(out["logits"], classifier(x, training=False), atol=1e-5)
    assert out["source"].shape == (2, len(SOURCES))
    classifier_ids = {id(w) for w in classifier.weights}
    assert classifier_ids < {id(w) for w in trainer.weights}


def test_history_names_the_classifier_figures_as_a_one_output_run_does():
    history = {
        "loss": [3.0], "logits_loss": [1.0], "logits_accuracy": [0.5], "source_loss": [2.0],
        "val_loss": [3.5], "val_logits_loss": [1.5], "val_logits_accuracy": [0.4],
    }  # fmt: skip
    named = classifier_history(history)
    assert named["loss"] == [1.0]
    assert named["val_loss"] == [1.5]
    assert named["accuracy"] == [0.5]
    assert named["val_accuracy"] == [0.4]
    assert named["total_loss"] == [3.0]
    assert named["source_loss"] == [2.0]


def test_training_with_the_adversary_exports_the_classifier_alone(tmp_path):
    data = tmp_path / "data"
    _write_fake_dataset(data)
    out = tmp_path / "out"
    args = ["--data", str(data), "--out", str(out), "--arch", "cnn_small", "--size", "32"]
    args += ["--epochs", "2", "--max-steps", "1", "--batch-size", "8", "--verbose", "0"]
    args += ["--audit-json", str(tmp_path / "none.json"), "--cache-dir", str(tmp_path / "c")]
    args += ["--no-ixi", "--source-adversary", "0.5"]
    train_main(args)
    card = read_card(out / "model_card.json")
    training = card["training"]
    assert training["source_adversary"] == 0.5
    assert "source adversary" in training["loss"]
    assert len(training["history"]["val_loss"]) == training["epochs_run"] == 2
    assert "source_loss" in training["history"]
    model = keras.saving.load_model(out / "brainscan.keras")
    assert [layer.name for layer in model.layers if "source" in layer.name] == []
    assert model.output_shape == (None, len(CLASS_NAMES))
