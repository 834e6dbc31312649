"""Network architectures (Keras). Every one takes (size, size, 1) in [0, 1] and returns LOGITS.

Two contracts other modules rely on:
- the last convolutional layer is named "last_conv" and its output is the rectified
  feature map (Grad-CAM targets it);
- the final layer, "logits", has no softmax, so temperature scaling divides its output.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
from keras import layers

# Keras is untyped here (no stubs): a symbolic tensor is Any at our boundary.
Tensor = Any
Body = Callable[[Tensor, str | None], Tensor]  # (inputs, imagenet weights) -> feature map

LAST_CONV = "last_conv"
LOGITS = "logits"


def build_model(
    arch: str,
    input_size: int,
    n_classes: int = 4,
    *,
    imagenet_weights: str | None = None,
) -> keras.Model:
    """Build an untrained classifier.

    Args:
        arch: one of ARCHITECTURES ("cnn", "cnn_small", "mobilenetv2").
        input_size: side of the square grayscale input.
        n_classes: number of output logits.
        imagenet_weights: optional LOCAL path to ImageNet weights (MobileNetV2 only, no top).
            Nothing is ever downloaded.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose from {sorted(ARCHITECTURES)}")
    if imagenet_weights is not None and arch != "mobilenetv2":
        raise ValueError("imagenet weights only apply to the mobilenetv2 architecture")
    inputs = keras.Input((input_size, input_size, 1), name="image")
    features = ARCHITECTURES[arch](inputs, imagenet_weights)
    x = layers.GlobalAveragePooling2D(name="gap")(features)
    x = layers.Dropout(0.3, name="head_dropout")(x)
    # float32 logits even under mixed precision: softmax/temperature need the range.
    logits = layers.Dense(n_classes, name=LOGITS, dtype="float32")(x)
    return keras.Model(inputs, logits, name=f"brainscan_{arch}")


def _conv_bn_relu(x: Tensor, filters: int, name: str) -> Tensor:
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _cnn(widths: tuple[int, ...], last: int) -> Body:
    """Strided stem, then VGG-style stages of conv-BN-ReLU pairs, each halving resolution.

    The stride-2 stem keeps full-resolution convolutions (most of a plain VGG's cost on a
    CPU) out of the network; the head sees an (size / 16) grid, 8 x 8 at 128 px.
    """

    def body(inputs: Tensor, _weights: str | None) -> Tensor:
        x = layers.Conv2D(
            widths[0], 3, strides=2, padding="same", use_bias=False, name="stem_conv"
        )(inputs)
        x = layers.BatchNormalization(name="stem_bn")(x)
        x = layers.ReLU(name="stem_relu")(x)
        for stage, filters in enumerate(widths):
            x = _conv_bn_relu(x, filters, f"s{stage}a")
            x = _conv_bn_relu(x, filters, f"s{stage}b")
            if stage < len(widths) - 1:
                x = layers.MaxPooling2D(name=f"s{stage}_pool")(x)
            if stage:
                x = layers.SpatialDropout2D(0.05 * stage, name=f"s{stage}_drop")(x)
        return layers.Conv2D(last, 1, activation="relu", name=LAST_CONV)(x)

    return body


def _mobilenetv2(inputs: Tensor, imagenet_weights: str | None) -> Tensor:
    """MobileNetV2 (alpha 0.5) on grayscale repeated to RGB inside the model."""
    if imagenet_weights is not None and not Path(imagenet_weights).is_file():
        raise FileNotFoundError("imagenet weights file not found (weights are never downloaded)")
    rgb = layers.Concatenate(name="gray_to_rgb")([inputs, inputs, inputs])
    rgb = layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(rgb)  # MobileNetV2's range
    base = keras.applications.MobileNetV2(
        input_tensor=rgb,
        alpha=0.5,
        include_top=False,
        weights=imagenet_weights,
    )
    return layers.Conv2D(256, 1, activation="relu", name=LAST_CONV)(base.output)


ARCHITECTURES: dict[str, Body] = {
    "cnn": _cnn((32, 64, 128, 256), 256),
    "cnn_small": _cnn((16, 32, 64, 96), 128),
    "mobilenetv2": _mobilenetv2,
}
