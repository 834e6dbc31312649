"""Domain randomisation for training, and the fixed display changes of the robustness table.

A slice from another hospital differs from ours in how it was acquired (resolution, noise,
bias field, skull-stripping) and in how it was exported (gamma, window/level, equalisation,
JPEG). `randomize` draws such differences for every training image, for EVERY class, so
none of them can stand for a class; `DISPLAY_CHANGES` are the fixed versions a clinician's
export produces, used by `python -m ml.evaluate` to measure how stable the answer is.

Everything works on a resized head crop and its mask (ml.image.preprocess.head_crop), before the
intensity standardisation, with numpy and OpenCV only (no TensorFlow: it runs in the
training input pipeline's thread and in tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ml.image.arrays import Float, Gray, Mask, as_float32, as_gray

Rng = np.random.Generator


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of each change (defaults: the shipped recipe)."""

    flip: float = 0.5
    rotate_degrees: float = 10.0
    scale: float = 0.10
    shift: float = 0.06
    skull_strip: float = 0.25  # share of images whose skull and scalp are removed
    strip_depth: tuple[float, float] = (0.04, 0.11)  # erosion, share of the head's size
    bias_field: float = 0.5
    bias_strength: float = 0.35  # log-amplitude of the smooth multiplicative field
    downsample: float = 0.4
    downsample_range: tuple[float, float] = (0.3, 0.9)  # of the crop side
    blur: float = 0.2
    blur_sigma: tuple[float, float] = (0.3, 1.2)
    noise: float = 0.35
    noise_sigma: tuple[float, float] = (0.005, 0.03)  # of the head's 99th-percentile level
    jpeg: float = 0.3
    jpeg_quality: tuple[int, int] = (30, 95)
    gamma: float = 0.5
    gamma_range: tuple[float, float] = (0.5, 2.0)
    window: float = 0.3  # clip to a narrowed window: saturates (ties) both ends
    equalize: float = 0.1


def randomize(
    crop: Gray, mask: Mask, rng: Rng, cfg: AugmentConfig = AugmentConfig()
) -> tuple[Gray, Mask]:
    """One random variant of a (size x size) uint8 crop and its bool head mask."""
    image = crop.astype(np.float32)
    image, mask = _geometry(image, mask, rng, cfg)
    if rng.random() < cfg.skull_strip:
        image, mask = skull_strip(image, mask, float(rng.uniform(*cfg.strip_depth)))
    if rng.random() < cfg.bias_field:
        image = image * _bias_field(image.shape, rng, cfg.bias_strength)
    if rng.random() < cfg.downsample:
        image = down_up(image, float(rng.uniform(*cfg.downsample_range)))
    if rng.random() < cfg.blur:
        image = as_float32(cv2.GaussianBlur(image, (0, 0), float(rng.uniform(*cfg.blur_sigma))))
    if rng.random() < cfg.noise:
        level = float(np.percentile(image[mask], 99)) if mask.any() else float(image.max())
        image = rician_noise(image, float(rng.uniform(*cfg.noise_sigma)) * max(level, 1.0), rng)
    out = _to_uint8(image)
    if rng.random() < cfg.jpeg:
        out = jpeg(out, int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)))
    if rng.random() < cfg.gamma:
        out = gamma(out, float(np.exp(rng.uniform(*np.log(cfg.gamma_range)))))
    if rng.random() < cfg.window:
        out = window(out, float(rng.uniform(0.0, 0.12)), float(rng.uniform(0.85, 1.0)))
    if rng.random() < cfg.equalize:
        out = as_gray(cv2.equalizeHist(out))
    return out, mask


def _geometry(image: Float, mask: Mask, rng: Rng, cfg: AugmentConfig) -> tuple[Float, Mask]:
    """Flip, rotation, zoom and shift with one affine warp of image and mask."""
    size = image.shape[0]
    angle = float(rng.uniform(-cfg.rotate_degrees, cfg.rotate_degrees))
    zoom = float(rng.uniform(1 - cfg.scale, 1 + cfg.scale))
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, zoom)
    matrix[:, 2] += rng.uniform(-cfg.shift, cfg.shift, 2) * size
    if rng.random() < cfg.flip:
        matrix[0] = -matrix[0]
        matrix[0, 2] += size
    border = cv2.BORDER_CONSTANT
    out = cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0
    )
    warped = cv2.warpAffine(
        mask.astype(np.uint8),
        matrix,
        (size, size),
        flags=cv2.INTER_NEAREST,
        borderMode=border,
        borderValue=0,
    )
    return as_float32(out), warped.astype(bool)


def erode_head(mask: Mask, depth: float) -> Mask:
    """The (non-empty) head mask eroded by `depth` of the head's size (its bounding box's
    longer side): the brain without skull and scalp, roughly."""
    ys, xs = np.nonzero(mask)
    extent = max(xs.max() - xs.min(), ys.max() - ys.min()) + 1
    radius = max(1, int(round(depth * extent)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.erode(mask.astype(np.uint8), kernel).astype(bool)


def skull_strip(image: Float, mask: Mask, depth: float) -> tuple[Float, Mask]:
    """Approximate skull-stripping: erode the head mask by `depth` of the head's size,
    black out everything outside, and crop again to what is left (as a skull-stripped
    slice is cropped to the brain), back at the same size. Unchanged if too little is left."""
    size = image.shape[0]
    ys, xs = np.nonzero(mask)
    if len(xs) < 0.05 * mask.size:
        return image, mask
    brain = erode_head(mask, depth)
    if brain.sum() < 0.3 * mask.sum():
        return image, mask
    ys, xs = np.nonzero(brain)
    pad = int(round(0.03 * max(xs.max() - xs.min(), ys.max() - ys.min())))
    x0, y0 = max(0, xs.min() - pad), max(0, ys.min() - pad)
    x1, y1 = min(size, xs.max() + 1 + pad), min(size, ys.max() + 1 + pad)
    stripped = np.where(brain, image, 0.0).astype(np.float32)[y0:y1, x0:x1]
    out = cv2.resize(stripped, (size, size), interpolation=cv2.INTER_LINEAR)
    # Linear, as it has always run: the third positional argument written here before was
    # OpenCV's `dst`, so INTER_NEAREST was never applied (0/1 values stay 0/1 either way).
    out_mask = cv2.resize(
        brain[y0:y1, x0:x1].astype(np.uint8), (size, size), interpolation=cv2.INTER_LINEAR
    )
    return as_float32(out), out_mask.astype(bool)


def _bias_field(shape: tuple[int, ...], rng: Rng, strength: float) -> Float:
    """A smooth multiplicative field, exp of a 3x3 random grid upsampled (RF inhomogeneity)."""
    grid = rng.normal(0.0, 1.0, (3, 3)).astype(np.float32)
    smooth = cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return as_float32(np.exp(float(rng.uniform(0.0, strength)) * smooth / 2.0))


def down_up(image: Float, factor: float) -> Float:
    """Lose resolution: shrink by `factor` (area) and enlarge back (linear), as a 2 mm scan
    or a small export enlarged in a viewer looks."""
    h, w = image.shape[:2]
    small = cv2.resize(
        image, (max(8, round(w * factor)), max(8, round(h * factor))), interpolation=cv2.INTER_AREA
    )
    return as_float32(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR))


def rician_noise(image: Float, sigma: float, rng: Rng) -> Float:
    """Magnitude-image noise: |signal + n1 + i n2| with Gaussian n1, n2 (MRI's Rician noise)."""
    real = image + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    imaginary = rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.sqrt(real * real + imaginary * imaginary)


def jpeg(image: Gray, quality: int) -> Gray:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 2-D array
        return image
    decoded = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    return image if decoded is None else as_gray(decoded)  # None: as `not ok` above


def gamma(image: Gray, value: float) -> Gray:
    lut = np.clip(np.rint(255.0 * (np.arange(256) / 255.0) ** value), 0, 255).astype(np.uint8)
    return lut[image]


def window(image: Gray, low: float, high: float) -> Gray:
    """Map [low, high] of the full scale to [0, 255], clipping outside (a narrowed window);
    low < 0 or high > 1 widens it (less contrast)."""
    scale = 255.0 / max(1e-6, (high - low) * 255.0)
    return _to_uint8((image.astype(np.float32) - low * 255.0) * scale)


def _to_uint8(image: Float) -> Gray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


# The display changes of the robustness table, on a WHOLE decoded slice (uint8 2-D), as a
# viewer's export or a clinician's conversion would make them.
def _down_128(gray: Gray) -> Gray:
    factor = min(1.0, 128.0 / max(gray.shape))
    return _to_uint8(down_up(gray.astype(np.float32), factor))


def _noise(gray: Gray) -> Gray:
    rng = np.random.default_rng(int(gray.sum()) % (2**32))  # the same noise for the same slice
    return _to_uint8(rician_noise(gray.astype(np.float32), 6.0, rng))


DISPLAY_CHANGES: dict[str, Callable[[Gray], Gray]] = {
    "gamma 0.6": lambda g: gamma(g, 0.6),
    "gamma 1.6": lambda g: gamma(g, 1.6),
    "window narrowed (5-80 %)": lambda g: window(g, 0.05, 0.80),
    "window widened (-20-120 %)": lambda g: window(g, -0.20, 1.20),
    "histogram equalisation": lambda g: as_gray(cv2.equalizeHist(g)),
    "JPEG quality 50": lambda g: jpeg(g, 50),
    "down-sampled to 128 px and back": _down_128,
    "Rician noise sigma 6": _noise,
}


def skull_strip_slice(gray: Gray, depth: float) -> Gray:
    """Whole-slice version of `skull_strip`: black out all but the eroded head mask."""
    from ml.image.preprocess import brain_mask

    mask = brain_mask(gray)
    ys, xs = np.nonzero(mask)
    if len(xs) < 0.05 * mask.size:
        return gray
    brain = erode_head(mask, depth)
    if brain.sum() < 0.3 * mask.sum():
        return gray
    return np.where(brain, gray, np.uint8(0))


def random_slice_change(gray: Gray, rng: Rng) -> Gray:
    """One random acquisition or export change of a whole slice, drawn from continuous
    ranges (not the fixed DISPLAY_CHANGES the robustness table measures): what the input
    gate's reference statistics are widened with."""
    kind = int(rng.integers(7))
    if kind == 0:
        return gamma(gray, float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))))
    if kind == 1:
        return window(gray, float(rng.uniform(-0.25, 0.12)), float(rng.uniform(0.75, 1.25)))
    if kind == 2:
        return as_gray(cv2.equalizeHist(gray))
    if kind == 3:
        return jpeg(gray, int(rng.integers(30, 96)))
    if kind == 4:
        factor = float(rng.uniform(96, 256)) / max(gray.shape)
        return gray if factor >= 1 else _to_uint8(down_up(gray.astype(np.float32), factor))
    if kind == 5:
        sigma = float(rng.uniform(0.005, 0.03)) * max(float(np.percentile(gray, 99)), 1.0)
        return _to_uint8(rician_noise(gray.astype(np.float32), sigma, rng))
    return skull_strip_slice(gray, float(rng.uniform(0.04, 0.11)))
