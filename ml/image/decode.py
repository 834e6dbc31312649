"""Decode untrusted image bytes into one 2-D uint8 grayscale array.

Uploads come in every mode Pillow knows (1, L, P, RGB, RGBA, LA, CMYK, 16-bit, float);
the model sees only 8-bit grayscale, so every path ends in the same kind of array.
Error messages never contain file names: they may hold patient names.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

DEFAULT_MAX_PIXELS = 40_000_000
_HIGH_DEPTH_MODES = {"I", "F"}


class UnreadableImage(ValueError):
    """The bytes are not an image we can decode (empty, corrupt, truncated, too large)."""


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> NDArray[np.uint8]:
    """Decode image bytes to a 2-D uint8 grayscale array, EXIF orientation applied.

    Raises:
        UnreadableImage: empty, corrupt, truncated or larger than `max_pixels`.
    """
    if not data:
        raise UnreadableImage("empty file")
    img = open_checked(data, max_pixels)
    return to_grayscale(_apply_orientation(img))


def _apply_orientation(img: Image.Image) -> Image.Image:
    """Rotate as the EXIF tag says; a broken EXIF block must not reject good pixels."""
    try:
        return ImageOps.exif_transpose(img) or img
    except Exception:  # noqa: BLE001
        return img


def open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Open and fully load the image, refusing oversized ones before decoding pixels: the one
    size-limited open, for callers that need the Pillow image itself (no EXIF step, no gray)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width < 1 or height < 1:
                raise UnreadableImage("image has no pixels")
            if width * height > max_pixels:
                raise UnreadableImage(f"image too large: {width}x{height} pixels")
            img.load()
    except UnreadableImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnreadableImage("image too large") from exc
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad input
        message = "not a readable image (corrupt, truncated or unsupported format)"
        raise UnreadableImage(message) from exc
    return img


def to_grayscale(img: Image.Image) -> NDArray[np.uint8]:
    """Convert any Pillow image to a 2-D uint8 array.

    Alpha is composited on black (MRI background is black, so transparent margins stay
    background). 16-bit and float images are rescaled by a robust min/max, because
    their absolute range (often 0-4095 or arbitrary) means nothing to an 8-bit model.
    """
    mode = img.mode
    if mode.startswith("I;16") or mode in _HIGH_DEPTH_MODES:
        return _rescale_high_depth(np.asarray(img, dtype=np.float64))
    if mode == "P" or mode == "PA":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in {"RGBA", "LA", "La", "RGBa"}:
        return _composite_on_black(img.convert("RGBA"))
    if mode != "L":
        img = img.convert("RGB").convert("L") if mode not in {"1", "RGB"} else img.convert("L")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def _composite_on_black(rgba: Image.Image) -> NDArray[np.uint8]:
    arr = np.asarray(rgba, dtype=np.float32)
    alpha = arr[..., 3:4] / 255.0
    rgb = arr[..., :3] * alpha
    # ITU-R 601-2 luma, the same weights Pillow uses for convert("L").
    luma: NDArray[np.float32] = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(luma), 0, 255).astype(np.uint8)


def _rescale_high_depth(
    arr: NDArray[np.float64], low_pct: float = 0.5, high_pct: float = 99.5
) -> NDArray[np.uint8]:
    """Map the 0.5-99.5 percentile range to 0-255 so one hot pixel cannot darken the scan."""
    if arr.ndim == 3:
        arr = arr.mean(axis=2)
    arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = np.percentile(arr, [low_pct, high_pct])
    if hi <= lo:
        lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    scaled: NDArray[np.float64] = (arr - lo) / (hi - lo) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
