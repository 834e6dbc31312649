"""Grad-CAM (Selvaraju et al. 2017) on the last convolutional layer.

The served model is split at that layer into a `body` (image -> feature map) and a `head`
(feature map -> logits). Both are new Keras models that share the served model's layers
and weights, so nothing about the served model changes. The split also makes Grad-CAM
cheap: one forward pass gives the feature map, and the gradient only has to flow through
the small head (pooling + dense), not back through the whole network.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

EPSILON = 1e-7  # as tf-keras-vis `normalize`: a flat map becomes 0, never NaN


def split_at(model: keras.Model, layer_name: str) -> tuple[keras.Model, keras.Model]:
    """Return (body, head) with head(body(x)) == model(x), sharing the model's weights.

    Raises:
        ValueError: no such layer, or the layers after it need more than its output.
    """
    feature_map = model.get_layer(layer_name).output
    if len(feature_map.shape) != 4:
        raise ValueError(f"layer {layer_name!r} is not a 2-D feature map: {feature_map.shape}")
    body = keras.Model(model.input, feature_map, name=f"{model.name}_body")
    head = keras.Model(feature_map, model.output, name=f"{model.name}_head")
    return body, head


def normalize(cam: tf.Tensor) -> tf.Tensor:
    """Min-max scale to [0, 1] with an epsilon, so a constant map gives zeros, not NaN."""
    low = tf.reduce_min(cam)
    return (cam - low) / (tf.reduce_max(cam) - low + EPSILON)


def gradcam_from_features(
    head: keras.Model, feature_map: tf.Tensor, class_index: tf.Tensor
) -> tf.Tensor:
    """Grad-CAM of one image from its feature map (1, h, w, k); returns (h, w) in [0, 1].

    Wrap in `tf.function` for serving; it is plain TensorFlow so that works as is.
    """
    with tf.GradientTape() as tape:
        tape.watch(feature_map)
        logits = head(feature_map, training=False)
        score = tf.gather(logits[0], class_index)
    grads = tape.gradient(score, feature_map)
    channel_weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # alpha_k
    cam = tf.nn.relu(tf.reduce_sum(feature_map * channel_weights, axis=-1))[0]
    return normalize(tf.cast(cam, tf.float32))


def gradcam_batch_from_features(
    head: keras.Model, feature_maps: tf.Tensor, class_indices: tf.Tensor
) -> tf.Tensor:
    """Grad-CAM of a batch (n, h, w, k) with one class per image; returns (n, h, w) in [0, 1].

    One gradient of the summed scores: the head (pooling and dense layers, inference mode)
    mixes nothing between images, so each image's slice of that gradient is its own, and
    each map equals `gradcam_from_features` of the image alone.
    """
    with tf.GradientTape() as tape:
        tape.watch(feature_maps)
        logits = head(feature_maps, training=False)
        score = tf.reduce_sum(tf.gather(logits, class_indices, axis=1, batch_dims=1))
    grads = tape.gradient(score, feature_maps)
    channel_weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cams = tf.cast(tf.nn.relu(tf.reduce_sum(feature_maps * channel_weights, axis=-1)), tf.float32)
    low = tf.reduce_min(cams, axis=(1, 2), keepdims=True)
    return (cams - low) / (tf.reduce_max(cams, axis=(1, 2), keepdims=True) - low + EPSILON)


def gradcam_heatmap(
    model: keras.Model, image: np.ndarray, layer_name: str, class_index: int | None = None
) -> np.ndarray:
    """Grad-CAM for one (H, W, C) image at the layer's resolution, in [0, 1].

    Args:
        model: a classifier returning logits; it is not modified.
        image: one model input without the batch axis.
        layer_name: the convolutional layer to explain, usually "last_conv".
        class_index: class to explain; default: the predicted one.
    """
    body, head = split_at(model, layer_name)
    feature_map = body(image[np.newaxis].astype("float32"), training=False)
    if class_index is None:
        class_index = int(np.argmax(head(feature_map, training=False)[0]))
    heatmap: np.ndarray = gradcam_from_features(head, feature_map, tf.constant(class_index)).numpy()
    return heatmap
