"""The one preprocessing path shared by training and inference.

gray uint8 image -> brain crop (threshold + largest contour) -> resize -> float32 [0, 1].
Cropping to the head removes the black frame and most of the framing differences between
the data set's sources, so the model spends its pixels on anatomy.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_SIDE_FOR_CROP = 16  # below this a contour means nothing; use the whole image
MIN_AREA_FRACTION = 0.05  # a "head" smaller than 5 % of the image is noise or text
DEFAULT_MARGIN = 0.03  # fraction of the bbox's longer side added on each side

BBox = tuple[int, int, int, int]


@dataclass(frozen=True)
class Prepared:
    tensor: np.ndarray  # float32 (size, size, 1) in [0, 1]
    bbox: BBox  # (x, y, w, h) of the crop in the input image's coordinates


def _as_uint8_2d(gray: np.ndarray) -> np.ndarray:
    arr = np.asarray(gray)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"expected a non-empty 2-D grayscale array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _threshold(blurred: np.ndarray) -> float:
    """Half of Otsu's threshold, floored: keeps dim grey matter inside the head outline."""
    otsu, _ = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return max(10.0, 0.5 * float(otsu))


def brain_mask(gray: np.ndarray) -> np.ndarray:
    """Boolean mask of the largest bright blob (the head), filled; all False if none."""
    arr = _as_uint8_2d(gray)
    mask = np.zeros(arr.shape, dtype=np.uint8)
    if min(arr.shape) < MIN_SIDE_FOR_CROP or int(arr.max()) == int(arr.min()):
        return mask.astype(bool)
    blurred = cv2.GaussianBlur(arr, (5, 5), 0)
    _, binary = cv2.threshold(blurred, _threshold(blurred), 255, cv2.THRESH_BINARY)
    kernel = np.ones((3, 3), np.uint8)
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, kernel, iterations=2)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return mask.astype(bool)
    largest = max(contours, key=cv2.contourArea)
    cv2.drawContours(mask, [largest], -1, 255, thickness=cv2.FILLED)
    return mask.astype(bool)


def crop_brain(gray: np.ndarray, *, margin: float = DEFAULT_MARGIN) -> tuple[np.ndarray, BBox]:
    """Crop to the head's bounding box plus a margin; whole image if no plausible head.

    Returns the cropped array and its bbox (x, y, w, h) in `gray`'s coordinates, so a
    heatmap computed on the crop can be pasted back onto the original image.
    """
    arr = _as_uint8_2d(gray)
    height, width = arr.shape
    whole: BBox = (0, 0, width, height)
    mask = brain_mask(arr)
    if mask.sum() < MIN_AREA_FRACTION * arr.size:
        return arr, whole
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    pad = int(round(margin * max(x1 - x0, y1 - y0)))
    x0, y0 = max(0, x0 - pad), max(0, y0 - pad)
    x1, y1 = min(width, x1 + pad), min(height, y1 + pad)
    return arr[y0:y1, x0:x1], (x0, y0, x1 - x0, y1 - y0)


def resize_uint8(gray: np.ndarray, size: int) -> np.ndarray:
    """Resize to size x size with area interpolation (anti-aliased when shrinking)."""
    return cv2.resize(gray, (size, size), interpolation=cv2.INTER_AREA)


def prepare_uint8(gray: np.ndarray, size: int) -> tuple[np.ndarray, BBox]:
    """Crop + resize, kept as uint8: the training cache stores this to save memory."""
    crop, bbox = crop_brain(gray)
    return resize_uint8(crop, size), bbox


def prepare(gray: np.ndarray, size: int) -> Prepared:
    """Model input for one grayscale image. Training and inference both call this."""
    resized, bbox = prepare_uint8(gray, size)
    return Prepared(tensor=to_model_input(resized), bbox=bbox)


def to_model_input(resized: np.ndarray) -> np.ndarray:
    """uint8 (size, size) -> float32 (size, size, 1) in [0, 1]."""
    return (resized.astype(np.float32) / 255.0)[..., np.newaxis]
