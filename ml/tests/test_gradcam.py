from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest

from ml.serving.gradcam import gradcam_heatmap, normalize, split_at
from ml.serving.overlay import heatmap_png, mass_inside, overlay_png, to_slice
from ml.testing import mri_like, tiny_model


@pytest.fixture(scope="module")
def model():
    return tiny_model(input_size=32, seed=1)


def _as_input(gray: np.ndarray) -> np.ndarray:
    return (gray.astype(np.float32) / 255.0)[..., np.newaxis]


INPUTS = {
    "blank": np.zeros((32, 32, 1), np.float32),
    "constant": np.full((32, 32, 1), 0.7, np.float32),
    "noise": np.random.default_rng(0).random((32, 32, 1)).astype(np.float32),
    "mri_like": _as_input(cv2.resize(mri_like(96, seed=1), (32, 32))),
}


@pytest.mark.parametrize("name", INPUTS)
def test_heatmap_is_finite_and_in_unit_range(model, name):
    # A blank image gives a flat map: keras-io's divide-by-max would return NaN here;
    # the epsilon in `normalize` (as in tf-keras-vis) gives zeros instead.
    heatmap = gradcam_heatmap(model, INPUTS[name], "last_conv")

    assert heatmap.shape == (16, 16)  # last_conv resolution after one 2x pooling
    assert np.isfinite(heatmap).all()
    assert 0.0 <= heatmap.min() <= heatmap.max() <= 1.0


def test_normalize_maps_a_constant_map_to_zeros():
    assert np.array_equal(normalize(np.full((4, 4), 3.0, np.float32)).numpy(), np.zeros((4, 4)))


def test_heatmap_points_at_the_region_that_drives_the_class():
    # last_conv copies the input (1x1 kernel of 1), so the class score is the image mean:
    # every bright pixel raises it, and Grad-CAM must light up the bright square only.
    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(1, 1, kernel_initializer="ones", name="last_conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(conv)
    logits = keras.layers.Dense(2, kernel_initializer="ones", name="logits")(pooled)
    image = np.zeros((8, 8, 1), np.float32)
    image[1:3, 5:7] = 1.0

    heatmap = gradcam_heatmap(keras.Model(inputs, logits), image, "last_conv", class_index=0)

    assert np.array_equal(heatmap > 0.5, image[..., 0] > 0.5)


def test_grad_cam_leaves_the_served_model_unchanged(model):
    x = INPUTS["mri_like"][np.newaxis]
    weights_before = [w.copy() for w in model.get_weights()]
    output_before = model(x, training=False).numpy()
    layers_before = [(layer.name, type(layer)) for layer in model.layers]

    for image in INPUTS.values():
        gradcam_heatmap(model, image, "last_conv")

    assert all(
        np.array_equal(a, b) for a, b in zip(weights_before, model.get_weights(), strict=True)
    )
    assert np.array_equal(model(x, training=False).numpy(), output_before)
    assert [(layer.name, type(layer)) for layer in model.layers] == layers_before
    assert model.get_layer("logits").activation is keras.activations.linear


def test_split_model_computes_the_same_logits(model):
    body, head = split_at(model, "last_conv")
    x = INPUTS["noise"][np.newaxis]

    np.testing.assert_allclose(head(body(x)).numpy(), model(x).numpy(), rtol=1e-6)


def test_split_at_an_unknown_layer_is_an_error(model):
    with pytest.raises(ValueError, match="nope"):
        split_at(model, "nope")


def test_to_slice_pastes_the_heatmap_into_the_crop_box():
    heatmap = np.ones((4, 4), np.float32)

    full = to_slice(heatmap, (10, 5, 20, 30), (50, 60))

    assert full.shape == (50, 60)
    assert full[5:35, 10:30].min() == 1.0
    assert full.sum() == pytest.approx(20 * 30)


def test_mass_inside_is_the_share_of_heat_under_the_mask():
    heatmap = np.zeros((4, 4), np.float32)
    heatmap[0, 0], heatmap[3, 3] = 3.0, 1.0
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True

    assert mass_inside(heatmap, mask) == pytest.approx(0.75)
    assert mass_inside(np.zeros((4, 4)), mask) == 0.0


def _decode(png: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image


def test_overlay_has_the_slice_size_and_leaves_cold_regions_untouched():
    gray = mri_like(90, seed=2)[:, :70]
    heatmap = np.zeros(gray.shape, np.float32)
    heatmap[10:30, 10:30] = 1.0

    overlay = _decode(overlay_png(gray, heatmap))

    assert overlay.shape == (90, 70, 3)
    assert np.array_equal(overlay[50:, 40:], cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)[50:, 40:])
    assert not np.array_equal(overlay[10:30, 10:30, 0], gray[10:30, 10:30])


def test_heatmap_png_is_8_bit_gray_of_the_same_size():
    heatmap = np.linspace(0, 1, 40 * 30, dtype=np.float32).reshape(40, 30)

    decoded = _decode(heatmap_png(heatmap))

    assert decoded.shape == (40, 30)
    assert decoded.dtype == np.uint8
    assert (decoded[0, 0], decoded[-1, -1]) == (0, 255)


def test_overlay_refuses_a_heatmap_of_another_size():
    with pytest.raises(ValueError, match="differ"):
        overlay_png(np.zeros((10, 10), np.uint8), np.zeros((5, 5), np.float32))


def test_heatmap_png_maps_out_of_range_values_to_black_and_white():
    heatmap = np.array([[-0.5, np.nan, 0.5, 1.5]], np.float32)

    assert _decode(heatmap_png(heatmap)).tolist() == [[0, 0, 128, 255]]
