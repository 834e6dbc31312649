from __future__ import annotations

import cv2
import numpy as np
import pytest

from ml.image.png import encode_png


def _decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (64, 48), (5, 9, 3), (33, 17, 3)])
def test_png_round_trips_exactly(shape):
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)

    decoded = _decode(encode_png(pixels))

    expected = pixels if len(shape) == 2 else pixels[..., ::-1]  # OpenCV decodes to BGR
    assert np.array_equal(decoded, expected)


def test_smooth_images_compress():
    ramp = np.tile(np.arange(256, dtype=np.uint8), (256, 1))

    assert len(encode_png(ramp)) < ramp.nbytes / 20


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((4, 4), np.float32), np.zeros((4, 4, 4), np.uint8), np.zeros((0, 4), np.uint8)],
)
def test_refuses_what_it_cannot_write(pixels):
    with pytest.raises(ValueError, match="PNG|uint8"):
        encode_png(pixels)
