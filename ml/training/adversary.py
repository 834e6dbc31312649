"""Training that cannot see the source: a class-conditional source adversary.

A small head reads the classifier's pooled features (through a gradient reversal) together
with the TRUE class, and is trained to tell the image's source (figshare, Br35H/SARTAJ, IXI).
The reversal makes the classifier's features worse at that, so within one class the
features stop telling one hospital's look from another's. Conditioning on the class is what
keeps this from fighting the diagnosis itself: in the Kaggle set the source almost names the
class (every glioma is figshare), so an unconditional adversary could only win by making
tumours and normals alike. Only the classifier is exported; the adversary exists in training.

Strength follows the usual DANN ramp, 2 / (1 + exp(-10 p)) - 1 of its maximum over the
progress p of training, so the features form before they are pushed.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from ml.data.sources import IXI, KAGGLE_FIGSHARE, KAGGLE_OTHER

SOURCES = (KAGGLE_FIGSHARE, KAGGLE_OTHER, IXI)  # the adversary's classes, in this order
FEATURES = "gap"  # the classifier's pooled feature layer (ml.networks)
REVERSAL = "source_reversal"
SOURCE_OUTPUT = "source"
CLASS_OUTPUT = "logits"


class GradientReversal(layers.Layer):  # type: ignore[misc]  # Keras is untyped: Layer is Any
    """Identity forward; the gradient backward is multiplied by -strength.

    Written as stop_gradient(x * (1 + s)) - x * s: its value is x and its derivative -s,
    with no custom gradient to register or serialise.
    """

    def build(self, input_shape: Any) -> None:
        self.strength = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="strength"
        )

    def call(self, x: Any) -> Any:
        s = ops.cast(self.strength, x.dtype)
        return ops.stop_gradient(x * (1.0 + s)) - x * s


def source_indices(sources: list[str]) -> np.ndarray:
    """Index of each image's source in SOURCES."""
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise ValueError(f"no adversary class for sources {unknown}")
    return np.array([SOURCES.index(s) for s in sources], dtype=np.int64)


def build_trainer(classifier: keras.Model, n_classes: int, hidden: int = 128) -> keras.Model:
    """The training model: inputs (image, class one-hot), outputs {"logits", "source"}.

    Shares every layer with `classifier`, so fitting it fits the classifier."""
    label = keras.Input((n_classes,), name="class_onehot")
    features = classifier.get_layer(FEATURES).output
    reversed_features = GradientReversal(name=REVERSAL)(features)
    x = layers.Concatenate(name="source_input")(
        [reversed_features, ops.cast(label, reversed_features.dtype)]
    )
    x = layers.Dense(hidden, activation="relu", name="source_hidden")(x)
    source = layers.Dense(len(SOURCES), name=SOURCE_OUTPUT, dtype="float32")(x)
    return keras.Model(
        [classifier.input, label],
        {CLASS_OUTPUT: classifier.output, SOURCE_OUTPUT: source},
        name="brainscan_source_adversarial",
    )


def ramp(progress: float, maximum: float) -> float:
    """DANN's schedule: 0 at the start, about 0.99 x maximum by half-way."""
    return maximum * (2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0)


class AdversaryRamp(keras.callbacks.Callback):  # type: ignore[misc]  # Keras is untyped
    """Sets the reversal's strength before every batch from the run's progress."""

    def __init__(self, maximum: float, progress: Any) -> None:
        super().__init__()
        self.maximum, self.progress = maximum, progress  # progress: () -> float in [0, 1]

    def on_train_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
        layer = self.model.get_layer(REVERSAL)
        layer.strength.assign(ramp(self.progress(), self.maximum))


def classifier_history(history: dict[str, list[float]]) -> dict[str, list[float]]:
    """Keras names a two-output run's metrics logits_loss, val_logits_accuracy, ...; the
    card and reports read loss / accuracy / val_loss / val_accuracy of the classifier, so
    those names get the classifier's figures and the adversary's keep their own."""
    out = {f"total_{k}" if k in ("loss", "val_loss") else k: v for k, v in history.items()}
    for prefix in ("", "val_"):
        for metric in ("loss", "accuracy"):
            key = f"{prefix}{CLASS_OUTPUT}_{metric}"
            if key in out:
                out[f"{prefix}{metric}"] = out.pop(key)
    return out
