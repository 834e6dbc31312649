from __future__ import annotations

import numpy as np
import pytest

from ml.image.preprocess import Prepared, brain_mask, crop_brain, prepare


def test_crop_finds_the_head_and_reports_bbox_in_input_coordinates(synthetic_head):
    crop, (x, y, w, h) = crop_brain(synthetic_head, margin=0.0)
    # ellipse centre (140, 90), semi-axes 60 x 50 -> x 80..200, y 40..140
    assert abs(x - 80) <= 2
    assert abs(y - 40) <= 2
    assert abs(w - 121) <= 3
    assert abs(h - 101) <= 3
    np.testing.assert_array_equal(crop, synthetic_head[y : y + h, x : x + w])


def test_mask_is_filled_even_with_a_dark_hole(synthetic_head):
    synthetic_head[85:95, 125:135] = 0  # dark lesion inside the head
    mask = brain_mask(synthetic_head)
    assert mask[90, 130]


def test_margin_grows_the_box_but_stays_inside_the_image(synthetic_head):
    _, tight = crop_brain(synthetic_head, margin=0.0)
    _, loose = crop_brain(synthetic_head, margin=0.5)
    assert loose[2] > tight[2]
    assert loose[3] > tight[3]
    assert loose[0] >= 0
    assert loose[1] >= 0
    assert loose[0] + loose[2] <= 240
    assert loose[1] + loose[3] <= 200


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((64, 64), np.uint8),
        np.full((64, 64), 255, np.uint8),
        np.random.default_rng(0).integers(0, 256, (64, 64)).astype(np.uint8),
        np.zeros((1, 1), np.uint8),
        np.zeros((3, 5000), np.uint8),
    ],
    ids=["blank", "white", "noise", "1x1", "3x5000"],
)
def test_implausible_inputs_fall_back_to_whole_image_or_stay_valid(image):
    crop, (x, y, w, h) = crop_brain(image)
    assert crop.size > 0
    assert x >= 0
    assert y >= 0
    assert x + w <= image.shape[1]
    assert y + h <= image.shape[0]
    if image.max() == image.min():
        assert (x, y, w, h) == (0, 0, image.shape[1], image.shape[0])


def test_tiny_speck_is_not_taken_for_a_head():
    img = np.zeros((100, 100), np.uint8)
    img[50:53, 50:53] = 255
    _, bbox = crop_brain(img)
    assert bbox == (0, 0, 100, 100)


@pytest.mark.parametrize("shape", [(1, 1), (3, 5000), (512, 512), (37, 91)])
def test_prepare_always_returns_model_shaped_unit_range_tensor(shape):
    gray = np.random.default_rng(1).integers(0, 256, shape).astype(np.uint8)
    out = prepare(gray, 64)
    assert isinstance(out, Prepared)
    assert out.tensor.shape == (64, 64, 1)
    assert out.tensor.dtype == np.float32
    assert 0.0 <= out.tensor.min() <= out.tensor.max() <= 1.0


def test_prepare_accepts_16_bit_arrays_by_clipping():
    gray = np.full((32, 32), 1000, np.uint16)
    assert prepare(gray, 16).tensor.max() == 1.0


def test_prepare_rejects_non_2d_input():
    with pytest.raises(ValueError, match="2-D"):
        prepare(np.zeros((8, 8, 3), np.uint8), 16)
