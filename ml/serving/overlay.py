"""A Grad-CAM heatmap on the whole slice: placing it, checking it, rendering it as PNG.

No TensorFlow here, so the web process can import this (and ml.serving.engine) cheaply.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from ml.image.png import encode_png
from ml.image.preprocess import BBox

EPSILON = 1e-7
COLORMAP = cv2.COLORMAP_JET
MAX_ALPHA = 0.5  # the hottest pixel is half heatmap, half slice: anatomy stays readable


def to_slice(heatmap: np.ndarray, bbox: BBox, shape: tuple[int, int]) -> np.ndarray:
    """Paste a crop's heatmap back onto the whole slice (zeros outside the crop).

    `preprocess.prepare` stretches the bbox to a square, so resizing the heatmap to the
    bbox's own width and height undoes exactly that.
    """
    x, y, w, h = bbox
    full = np.zeros(shape, dtype=np.float32)
    resized = cv2.resize(heatmap.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    full[y : y + h, x : x + w] = np.clip(resized, 0.0, 1.0)
    return full


def mass_inside(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of the heatmap's total mass that falls inside `mask` (0.0 for an empty map).

    A sanity figure: attention mostly outside the head means the model looked at framing
    or text, not anatomy.
    """
    total = float(heatmap.sum())
    if total <= EPSILON:
        return 0.0
    return float(heatmap[mask].sum()) / total


def heatmap_png(heatmap: np.ndarray) -> bytes:
    """8-bit grayscale PNG of a [0, 1] heatmap, same size as the array."""
    return encode_png(_to_uint8(heatmap))


def overlay_png(gray: np.ndarray, heatmap: np.ndarray) -> bytes:
    """Colour PNG: the slice in gray with the colour-mapped heatmap blended over it.

    The blend weight grows with the heat, so cold regions show the plain slice instead of
    the blue wash a fixed-weight blend would paint over the whole image.
    """
    if gray.shape != heatmap.shape:
        raise ValueError(f"slice {gray.shape} and heatmap {heatmap.shape} differ in size")
    colour = cv2.cvtColor(cv2.applyColorMap(_to_uint8(heatmap), COLORMAP), cv2.COLOR_BGR2RGB)
    base = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    alpha = (MAX_ALPHA * np.clip(heatmap, 0.0, 1.0)).astype(np.float32)
    return encode_png(cv2.blendLinear(base, colour, 1.0 - alpha, alpha))


def _to_uint8(heatmap: np.ndarray) -> np.ndarray:
    """[0, 1] floats to 0-255, rounded and saturated; negatives and NaN become 0.

    OpenCV does it in two passes, about 3x faster than the numpy clip/rint/astype chain.
    """
    floats = heatmap.astype(np.float32, copy=False)
    positive: NDArray[np.float32] = cv2.max(floats, 0.0)  # type: ignore[call-overload]  # OpenCV takes a scalar src2; its stubs list arrays only
    return cv2.convertScaleAbs(positive, alpha=255.0)
