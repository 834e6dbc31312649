"""PNG renderings of a Grad-CAM heatmap for people: the raw map and a colour overlay."""

from __future__ import annotations

import cv2
import numpy as np

COLORMAP = cv2.COLORMAP_JET
MAX_ALPHA = 0.5  # the hottest pixel is half heatmap, half slice: anatomy stays readable
PNG_COMPRESSION = 3  # zlib level: 1-3 are several times faster than 9 for ~10 % more bytes


def heatmap_png(heatmap: np.ndarray) -> bytes:
    """8-bit grayscale PNG of a [0, 1] heatmap, same size as the array."""
    return _encode_png(_to_uint8(heatmap))


def overlay_png(gray: np.ndarray, heatmap: np.ndarray) -> bytes:
    """Colour PNG: the slice in gray with the colour-mapped heatmap blended over it.

    The blend weight grows with the heat, so cold regions show the plain slice instead of
    the blue wash a fixed-weight blend would paint over the whole image.
    """
    if gray.shape != heatmap.shape:
        raise ValueError(f"slice {gray.shape} and heatmap {heatmap.shape} differ in size")
    colour = cv2.applyColorMap(_to_uint8(heatmap), COLORMAP).astype(np.float32)
    base = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR).astype(np.float32)
    alpha = (MAX_ALPHA * np.clip(heatmap, 0.0, 1.0))[..., np.newaxis]
    blended = base * (1.0 - alpha) + colour * alpha
    return _encode_png(np.clip(np.rint(blended), 0, 255).astype(np.uint8))


def _to_uint8(heatmap: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.nan_to_num(heatmap) * 255.0), 0, 255).astype(np.uint8)


def _encode_png(pixels: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    if not ok:
        raise RuntimeError("OpenCV could not encode the PNG")
    return buffer.tobytes()
