"""Input gate: refuse what is not a brain MRI slice before the classifier says "glioma".

A classifier always answers with one of its four classes, even for a photo of a cat. The
gate runs two kinds of checks and rejects on the first failure:

1. cheap image checks on the decoded picture (too small, odd aspect ratio, colour,
   blank, bright background); their limits sit well outside what the 7,023 images of the
   brain-tumor-mri data set show (see the constants below);
2. a feature-space distance: the Mahalanobis distance of the image's pooled "last_conv"
   features to the nearest class mean of the training MRIs (tied covariance, Ledoit-Wolf
   shrinkage, as Lee et al. 2018). The limit is a high quantile of the distances of
   held-out validation MRIs, stored with the class means in a small .npz next to the model.

Every check gives a score `value / limit`, so 1.0 is the border and the gate score is the
worst check's score: <= 1 accepted, > 1 rejected. `python -m ml.gate fit` recomputes the
statistics for a model; `python -m ml.gate evaluate` measures the gate (ml/gate_eval.py).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REASON_PREFIX = "This does not look like a brain MRI slice: "

# Limits of the cheap checks. Measured on all 7,023 data-set images: smallest side 150 px,
# largest aspect ratio 1.79, colourfulness <= 25.6 (Hasler-Suesstrunk; 0 for grayscale),
# gray-level standard deviation >= 20.8, mean of the 8 % image border <= 150.
MIN_SIDE = 64
MAX_ASPECT = 2.5
MAX_COLOURFULNESS = 40.0
MIN_STD = 8.0
MAX_BORDER_MEAN = 180.0
SCORE_CAP = 100.0  # keeps the score finite (JSON, database) for blank images
PREVIEW_SIDE = 256  # colour is judged on a small preview: cheap, and enough to see hue


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    score: float  # <= 1.0 accepted; the worst check's value / limit
    reason: str  # "" when accepted


def _verdict(score: float, reason: str) -> Verdict:
    score = float(min(score, SCORE_CAP))
    if score <= 1.0:
        return Verdict(True, score, "")
    return Verdict(False, score, REASON_PREFIX + reason)


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness: 0 for gray, ~15 faint tint, > 45 photos."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    spread = np.hypot(rg.std(), yb.std())
    offset = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * offset)


def colour_preview(data: bytes) -> np.ndarray | None:
    """Small RGB version of the ORIGINAL image (the model only ever sees grayscale).

    OpenCV decodes JPEGs at 1/4 scale for almost nothing; Pillow covers other formats.
    None if neither can read the bytes (the grayscale decoder has the final word on that).
    """
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_4)
    if bgr is not None:
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.draft("RGB", (PREVIEW_SIDE, PREVIEW_SIDE))
            img.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
            return np.asarray(img.convert("RGB"))
    except Exception:  # noqa: BLE001 - any failure just means "no colour information"
        return None


def shrink_preview(rgb: np.ndarray) -> np.ndarray:
    """Downscale a full-size RGB array to preview size (colour statistics barely change)."""
    scale = PREVIEW_SIDE / max(rgb.shape[:2])
    if scale >= 1.0:
        return rgb
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def check_image(gray: np.ndarray, colour: np.ndarray | None = None) -> Verdict:
    """Cheap checks on the decoded slice (and its colour preview, if there was colour)."""
    height, width = gray.shape
    if min(height, width) < MIN_SIDE:
        reason = f"the image is too small ({width}x{height} pixels, at least {MIN_SIDE} needed)."
        return _verdict(MIN_SIDE / max(min(height, width), 1), reason)
    checks = [
        (max(height, width) / min(height, width) / MAX_ASPECT, "its shape is far from square."),
        (
            0.0 if colour is None else colourfulness(colour) / MAX_COLOURFULNESS,
            "it is in colour; MRI slices are grayscale.",
        ),
        (MIN_STD / max(float(gray.std()), 1e-3), "it is blank or almost uniform."),
        (_border_mean(gray) / MAX_BORDER_MEAN, "its background is bright, not dark."),
    ]
    score, reason = max(checks, key=lambda check: check[0])
    return _verdict(score, reason)


def _border_mean(gray: np.ndarray) -> float:
    """Mean gray level of the outer 8 % frame: MRI slices sit on a black background."""
    small = cv2.resize(gray, (100, 100), interpolation=cv2.INTER_AREA).astype(np.float32)
    frame = np.ones(small.shape, bool)
    frame[8:-8, 8:-8] = False
    return float(small[frame].mean())


@dataclass(frozen=True)
class GateStats:
    """Training-MRI feature distribution for the Mahalanobis check."""

    class_means: np.ndarray  # (n_classes, d), of transformed features
    precision: np.ndarray  # (d, d), inverse of the shrunk tied covariance
    threshold: float  # distance above which an image is rejected
    quantile: float  # the validation quantile the threshold came from
    model_sha256: str  # the model these statistics belong to

    def distance(self, features: np.ndarray) -> float:
        """Mahalanobis distance of one feature vector to the nearest class mean."""
        diffs = transform(features)[np.newaxis, :] - self.class_means
        squared = np.einsum("kd,de,ke->k", diffs, self.precision, diffs)
        return float(np.sqrt(max(float(squared.min()), 0.0)))

    def save(self, path: str | Path) -> None:
        np.savez(
            path,
            class_means=self.class_means,
            precision=self.precision,
            threshold=self.threshold,
            quantile=self.quantile,
            model_sha256=self.model_sha256,
        )

    @classmethod
    def load(cls, path: str | Path) -> GateStats:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                class_means=data["class_means"].astype(np.float64),
                precision=data["precision"].astype(np.float64),
                threshold=float(data["threshold"]),
                quantile=float(data["quantile"]),
                model_sha256=str(data["model_sha256"]),
            )


def transform(features: np.ndarray) -> np.ndarray:
    """Square root of the pooled ReLU features: tames their long right tail, which makes
    a Gaussian model of them (and so the Mahalanobis distance) much less wrong."""
    return np.sqrt(np.maximum(np.asarray(features, dtype=np.float64), 0.0))


def fit_stats(
    features: np.ndarray,
    labels: np.ndarray,
    calibration: np.ndarray,
    *,
    quantile: float,
    model_sha256: str,
) -> GateStats:
    """Fit class means + shrunk tied covariance on `features`; set the threshold at the
    `quantile` of the `calibration` (held-out MRI) distances.

    Calibrating on held-out images matters: training images sit closer to their own
    means than new scans do, so a threshold taken from them rejects too many real MRIs.
    """
    from sklearn.covariance import LedoitWolf  # fitting only; serving needs no sklearn

    x = transform(features)
    classes = np.unique(labels)
    means = np.stack([x[labels == c].mean(axis=0) for c in classes])
    centred = x - means[np.searchsorted(classes, labels)]
    precision = LedoitWolf(assume_centered=True).fit(centred).precision_
    partial = GateStats(means, precision, np.inf, quantile, model_sha256)
    distances = np.array([partial.distance(f) for f in calibration])
    threshold = float(np.quantile(distances, quantile))
    return GateStats(means, precision, threshold, quantile, model_sha256)


class Gate:
    """The whole gate for one model: cheap checks, then the feature distance."""

    def __init__(self, stats: GateStats) -> None:
        self.stats = stats

    check_image = staticmethod(check_image)

    def check_features(self, features: np.ndarray) -> Verdict:
        score = self.stats.distance(features) / self.stats.threshold
        return _verdict(score, "its content is unlike the brain MRI slices the model knows.")


if __name__ == "__main__":
    from ml.gate_eval import main

    main()
