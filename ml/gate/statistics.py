"""A few numbers that describe how an image is built, whatever the model thinks of it.

An MRI slice is a compact, convex bright head on a black background, with a soft gray-level
histogram and moderate edges. Documents, noise, gradients, patterns and most photos differ
in several of these numbers at once. The input gate compares them with those of the
training slices (nearest neighbour), which works even for a model that was never shown
anything but MRIs and so has no reason to separate MRIs from photos in its own features.
"""

from __future__ import annotations

import cv2
import numpy as np

from ml.image.preprocess import brain_mask, crop_brain

WORK_SIDE = 256  # statistics are scale-free; computing them small keeps them ~1 ms
CROP_SIDE = 64
HISTOGRAM_BINS = 8
DARK = 26  # gray level below which a pixel counts as background (10 % of full scale)

NAMES = (
    "head_area",  # share of the image covered by the largest bright blob
    "head_solidity",  # blob area / its convex hull area: a head is nearly convex
    "dark_background",  # share of pixels outside the blob that are dark
    *(f"histogram_{i}" for i in range(HISTOGRAM_BINS)),  # sqrt of bin shares, in the crop
    "edge_strength",  # mean gradient magnitude / mean gray level, in the crop
    "edge_sharpness",  # mean |Laplacian| / mean gradient: noise and text are sharp
    "saturated",  # share of crop pixels at >= 251
    "black",  # share of crop pixels at <= 4
    "crop_aspect",  # log(width / height) of the crop box
    "contrast",  # gray-level std / mean, in the crop
)


def image_statistics(gray: np.ndarray, *, mask: np.ndarray | None = None) -> np.ndarray:
    """The NAMES statistics of one 2-D uint8 image, as float64.

    `mask` is `statistics_mask(gray)` when the caller already has it (the engine reuses it
    for the heatmap's share inside the head); it is computed once either way.
    """
    small = _shrink(gray)
    if mask is None:
        mask = brain_mask(small)
    crop, (_, _, width, height) = crop_brain(small, mask=mask)
    crop = cv2.resize(crop, (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_AREA)
    values = crop.astype(np.float32)
    mean = float(values.mean()) + 1.0
    gradient = float(np.hypot(*_sobel(values)).mean())
    laplacian = float(np.abs(cv2.Laplacian(values, cv2.CV_32F)).mean())
    histogram = np.histogram(values, bins=HISTOGRAM_BINS, range=(0, 256))[0] / values.size
    outside = small[~mask]
    return np.array(
        [
            float(mask.mean()),
            _solidity(mask),
            float((outside < DARK).mean()) if outside.size else 1.0,
            *np.sqrt(histogram),
            gradient / mean,
            laplacian / (gradient + 1e-3),
            float((values >= 251).mean()),
            float((values <= 4).mean()),
            float(np.log(width / height)),
            float(values.std()) / mean,
        ],
        dtype=np.float64,
    )


def statistics_mask(gray: np.ndarray) -> np.ndarray:
    """The head mask the statistics use: `brain_mask` of the image at WORK_SIDE."""
    return brain_mask(_shrink(gray))


def _shrink(gray: np.ndarray) -> np.ndarray:
    scale = WORK_SIDE / max(gray.shape)
    if scale >= 1.0:
        return gray
    size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def _sobel(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return cv2.Sobel(values, cv2.CV_32F, 1, 0), cv2.Sobel(values, cv2.CV_32F, 0, 1)


def _solidity(mask: np.ndarray) -> float:
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    if not contours:
        return 0.0
    largest = max(contours, key=cv2.contourArea)
    hull = cv2.contourArea(cv2.convexHull(largest))
    return float(cv2.contourArea(largest) / hull) if hull > 0 else 0.0
