from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ml.image.decode import UnreadableImage, decode_image


def _encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _gradient(w: int = 32, h: int = 24) -> np.ndarray:
    return np.tile(np.linspace(0, 255, w, dtype=np.uint8), (h, 1))


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "LA", "CMYK"])
def test_every_common_mode_decodes_to_2d_uint8(mode):
    img = Image.fromarray(_gradient()).convert(mode)
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    out = decode_image(_encode(img, fmt))
    assert out.shape == (24, 32)
    assert out.dtype == np.uint8


def test_rgb_gray_pixels_keep_their_value():
    rgb = np.stack([_gradient()] * 3, axis=-1)
    out = decode_image(_encode(Image.fromarray(rgb)))
    np.testing.assert_array_equal(out, _gradient())


def test_transparent_pixels_become_black():
    rgba = np.full((10, 10, 4), 200, np.uint8)
    rgba[:, :, 3] = 255
    rgba[:, :5, 3] = 0  # left half transparent
    out = decode_image(_encode(Image.fromarray(rgba, "RGBA")))
    assert out[:, :5].max() == 0
    assert out[:, 5:].min() == 200


def test_16_bit_is_rescaled_to_full_range():
    arr = np.tile(np.linspace(1000, 4000, 64), (8, 1)).astype(np.uint16)
    out = decode_image(_encode(Image.fromarray(arr)))
    assert out.dtype == np.uint8
    assert out.min() == 0
    assert out.max() == 255
    assert np.all(np.diff(out[0].astype(int)) >= 0)  # order preserved


def test_float_image_with_nan_is_finite():
    arr = np.linspace(-1, 1, 100, dtype=np.float32).reshape(10, 10)
    arr[0, 0] = np.nan
    out = decode_image(_encode(Image.fromarray(arr, "F"), "TIFF"))
    assert out.shape == (10, 10)
    assert out.max() == 255


def test_constant_16_bit_image_is_black_not_nan():
    arr = np.full((5, 5), 777, np.uint16)
    out = decode_image(_encode(Image.fromarray(arr)))
    assert out.max() == 0


def test_exif_orientation_is_applied():
    arr = np.zeros((10, 20, 3), np.uint8)  # wide image
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    out = decode_image(_encode(Image.fromarray(arr), "JPEG", exif=exif))
    assert out.shape == (20, 10)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all", _encode(Image.fromarray(_gradient(64, 64)), "JPEG")[:200]],
    ids=["empty", "garbage", "truncated"],
)
def test_bad_bytes_raise_unreadable(data):
    with pytest.raises(UnreadableImage):
        decode_image(data)


def test_too_many_pixels_is_refused_before_decoding():
    data = _encode(Image.new("L", (300, 300)))
    with pytest.raises(UnreadableImage, match="too large"):
        decode_image(data, max_pixels=10_000)
