"""Input gate: refuse what is not a brain MRI slice before the classifier says "glioma".

A classifier always answers with one of its four classes, even for a photo of a cat. The
gate runs three kinds of checks, cheapest first, and rejects on the first failure:

1. plain image checks (too small, far from square, in colour, blank, bright background),
   with limits well outside what the 7,023 images of the brain-tumor-mri data set show;
2. image statistics (ml/gate/statistics.py: head shape, background, histogram, edges):
   distance to the nearest training slice, after scaling each statistic by its spread.
   It does not depend on the model, and it runs before the model does;
3. model features: Mahalanobis distance of the pooled "last_conv" features to the nearest
   class mean of the training slices (tied covariance with Ledoit-Wolf shrinkage, as in
   Lee et al. 2018): what the model itself has seen.

The limits of 2 and 3 are a high quantile of the distances of held-out validation slices
(never the training slices: those sit closer to themselves than new scans do). They are
stored with the reference data in gate.npz next to the model, which `python -m ml.gate fit`
writes (ml/gate/fitting.py); `python -m ml.gate evaluate` measures the whole gate (ml/cli/gate.py).

Every check scores `value / limit`, so the gate score is the worst check's score:
<= 1 accepted, > 1 rejected.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.lib.npyio import NpzFile
from PIL import Image

from ml.gate.statistics import image_statistics
from ml.image.png import SIGNATURE as PNG_SIGNATURE

REASON_PREFIX = "This does not look like a brain MRI slice: "

# Limits of the plain checks. Measured on all 7,023 data-set images: smallest side 150 px,
# largest aspect ratio 1.79, at most 5.1 % coloured pixels (a tinted JPEG; 99.5 % have
# none), gray-level standard deviation >= 20.8, mean of the 8 % image border <= 150.
MIN_SIDE = 64
MAX_ASPECT = 2.5
MAX_COLOURED_SHARE = 0.10
COLOURED_CHROMA = 20.0  # a pixel this far from gray is coloured, not JPEG chroma noise
MIN_STD = 8.0
MAX_BORDER_MEAN = 180.0
SCORE_CAP = 100.0  # keeps the score finite (JSON, database) for blank images
PREVIEW_SIDE = 256  # colour is judged on a small preview: cheap, and enough to see hue
MIN_STAT_SCALE = 0.02  # floor for a statistic's spread, so a near-constant one cannot dominate
DISTANCE_CHUNK = 64  # rows per matrix product in StatisticsCheck.distances (~7 MB at a time)
CANDIDATE_SLACK = 1e-9  # relative; float64 products are good to ~1e-15 of the squares


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


def coloured_share(rgb: np.ndarray) -> float:
    """Share of pixels whose chroma (distance from gray in the red-green / yellow-blue
    opponent plane of Hasler & Suesstrunk) exceeds COLOURED_CHROMA."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    chroma = np.hypot(r - g, 0.5 * (r + g) - b)
    return float((chroma > COLOURED_CHROMA).mean())


def colour_preview(data: bytes) -> np.ndarray | None:
    """Small RGB version of the ORIGINAL image (the model only ever sees grayscale).

    OpenCV decodes JPEGs at 1/4 scale for almost nothing; Pillow covers other formats.
    None if neither can read the bytes (the grayscale decoder has the final word on that).
    """
    if is_gray_png(data):
        return None  # a gray PNG (how the platform stores gray slices) holds no colour
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


def is_gray_png(data: bytes) -> bool:
    """A PNG whose header says gray or gray + alpha (colour type 0 or 4): no decode needed."""
    return (
        data[:8] == PNG_SIGNATURE
        and data[12:16] == b"IHDR"
        and len(data) > 25
        and data[25] in (0, 4)
    )


def shrink_preview(rgb: np.ndarray) -> np.ndarray:
    """Downscale a full-size RGB array to preview size (colour statistics barely change)."""
    scale = PREVIEW_SIDE / max(rgb.shape[:2])
    if scale >= 1.0:
        return rgb
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def plain_checks(gray: np.ndarray, colour: np.ndarray | None = None) -> Verdict:
    """Checks 1: the decoded slice and, if the original had colour, its colour preview."""
    height, width = gray.shape
    if min(height, width) < MIN_SIDE:
        reason = f"the image is too small ({width}x{height} pixels, at least {MIN_SIDE} needed)."
        return _verdict(MIN_SIDE / max(min(height, width), 1), reason)
    checks = [
        (max(height, width) / min(height, width) / MAX_ASPECT, "its shape is far from square."),
        (
            0.0 if colour is None else coloured_share(colour) / MAX_COLOURED_SHARE,
            "it is in colour; MRI slices are grayscale.",
        ),
        (MIN_STD / max(_std(gray), 1e-3), "it is blank or almost uniform."),
        (_border_mean(gray) / MAX_BORDER_MEAN, "its background is bright, not dark."),
    ]
    score, reason = max(checks, key=lambda check: check[0])
    return _verdict(score, reason)


def _std(gray: np.ndarray) -> float:
    """Gray-level standard deviation; OpenCV's avoids numpy's float64 copy of the image."""
    return float(cv2.meanStdDev(gray)[1][0, 0])


def _border_mean(gray: np.ndarray) -> float:
    """Mean gray level of the outer 8 % frame: MRI slices sit on a black background."""
    small = cv2.resize(gray, (100, 100), interpolation=cv2.INTER_AREA).astype(np.float32)
    frame = np.ones(small.shape, bool)
    frame[8:-8, 8:-8] = False
    return float(small[frame].mean())


@dataclass(frozen=True)
class StatisticsCheck:
    """Check 2: nearest-neighbour distance in scaled image-statistics space."""

    centre: np.ndarray  # (d,) mean of the training statistics
    scale: np.ndarray  # (d,) their standard deviation, floored at MIN_STAT_SCALE
    reference: np.ndarray  # (n, d) scaled statistics of the training slices
    threshold: float

    def distance(self, statistics: np.ndarray) -> float:
        scaled = (statistics - self.centre) / self.scale
        return float(np.sqrt(((self.reference - scaled) ** 2).sum(axis=1).min()))

    def distances(self, statistics: np.ndarray) -> np.ndarray:
        """`distance` of each row of (m, d) `statistics`, to the last bit, for a batch.

        One matrix product finds every row's near neighbours (|r - s|^2 = |r|^2 - 2 r.s +
        |s|^2); `distance`'s own formula then runs on those few candidates only. The
        candidates are all references within a rounding bound (far wider than float64's) of
        the product's minimum, so they always hold the exact nearest one.
        """
        scaled = (np.atleast_2d(statistics) - self.centre) / self.scale
        reference, squares = self._float64_reference
        result = np.empty(len(scaled), np.float64)
        for start in range(0, len(scaled), DISTANCE_CHUNK):
            rows = scaled[start : start + DISTANCE_CHUNK]
            row_squares = (rows**2).sum(axis=1)
            approx = squares[np.newaxis, :] - 2.0 * (rows @ reference.T)
            approx += row_squares[:, np.newaxis]
            slack = CANDIDATE_SLACK * (float(squares.max()) + row_squares + 1.0)
            limits = approx.min(axis=1) + slack
            for offset, (row, limit) in enumerate(zip(rows, limits, strict=True)):
                near = self.reference[approx[offset] <= limit]
                result[start + offset] = np.sqrt(((near - row) ** 2).sum(axis=1).min())
        return result

    @cached_property
    def _float64_reference(self) -> tuple[np.ndarray, np.ndarray]:
        reference = self.reference.astype(np.float64)
        return reference, (reference**2).sum(axis=1)

    @classmethod
    def fit(cls, training: np.ndarray, calibration: np.ndarray, quantile: float) -> StatisticsCheck:
        centre = training.mean(axis=0)
        scale = np.maximum(training.std(axis=0), MIN_STAT_SCALE)
        partial = cls(centre, scale, ((training - centre) / scale).astype(np.float32), np.inf)
        return replace(partial, threshold=_quantile(partial, calibration, quantile))


@dataclass(frozen=True)
class FeatureCheck:
    """Check 3: Mahalanobis distance of model features to the nearest class mean."""

    class_means: np.ndarray  # (k, d), of transformed features
    precision: np.ndarray  # (d, d), inverse of the shrunk tied covariance
    threshold: float

    def distance(self, features: np.ndarray) -> float:
        return float(self.distances(np.asarray(features)[np.newaxis])[0])

    def distances(self, features: np.ndarray) -> np.ndarray:
        """`distance` of each row of (m, d) `features`: one matrix product for all rows and
        class means (einsum's per-row loop summed in another order: equal to ~1e-15)."""
        diffs = transform(features)[:, np.newaxis, :] - self.class_means  # (m, k, d)
        squared: np.ndarray = ((diffs @ self.precision) * diffs).sum(axis=-1)  # (m, k)
        distances: np.ndarray = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
        return distances

    @classmethod
    def fit(
        cls, training: np.ndarray, labels: np.ndarray, calibration: np.ndarray, quantile: float
    ) -> FeatureCheck:
        from sklearn.covariance import LedoitWolf  # fitting only; serving needs no sklearn

        x = transform(training)
        classes = np.unique(labels)
        means = np.stack([x[labels == c].mean(axis=0) for c in classes])
        centred = x - means[np.searchsorted(classes, labels)]
        precision = LedoitWolf(assume_centered=True).fit(centred).precision_
        partial = cls(means, precision, np.inf)
        return replace(partial, threshold=_quantile(partial, calibration, quantile))


def transform(features: np.ndarray) -> np.ndarray:
    """Square root of the pooled ReLU features: tames their long right tail, which makes
    a Gaussian model of them (and so the Mahalanobis distance) much less wrong."""
    return np.sqrt(np.maximum(np.asarray(features, dtype=np.float64), 0.0))


def _quantile(
    check: StatisticsCheck | FeatureCheck, calibration: np.ndarray, quantile: float
) -> float:
    return float(np.quantile([check.distance(row) for row in calibration], quantile))


@dataclass(frozen=True)
class GateStats:
    """Everything checks 2 and 3 need, for one model; saved as one .npz."""

    statistics: StatisticsCheck
    features: FeatureCheck
    quantile: float  # of validation distances, where both limits were set
    model_sha256: str  # the model these statistics belong to
    # A lower feature-distance limit: beyond it an accepted slice is "unfamiliar" (None in
    # gate files from before brainscan 2.0: nothing is flagged).
    unfamiliar_threshold: float | None = None
    unfamiliar_quantile: float | None = None

    def save(self, path: str | Path) -> None:
        arrays = {
            f"statistics_{f.name}": getattr(self.statistics, f.name)
            for f in fields(self.statistics)
        }
        arrays |= {
            f"features_{f.name}": getattr(self.features, f.name) for f in fields(self.features)
        }
        if self.unfamiliar_threshold is not None:
            arrays["unfamiliar_threshold"] = np.float64(self.unfamiliar_threshold)
            arrays["unfamiliar_quantile"] = np.float64(self.unfamiliar_quantile or np.nan)
        np.savez(path, quantile=self.quantile, model_sha256=self.model_sha256, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> GateStats:
        with np.load(path, allow_pickle=False) as data:
            optional = {
                key: float(data[key])
                for key in ("unfamiliar_threshold", "unfamiliar_quantile")
                if key in data.files
            }
            return cls(
                statistics=StatisticsCheck(**_fields(data, "statistics_", StatisticsCheck)),
                features=FeatureCheck(**_fields(data, "features_", FeatureCheck)),
                quantile=float(data["quantile"]),
                model_sha256=str(data["model_sha256"]),
                **optional,
            )


def _fields(
    data: NpzFile, prefix: str, kind: type[StatisticsCheck] | type[FeatureCheck]
) -> dict[str, Any]:
    values: dict[str, Any] = {name: data[prefix + name] for name in kind.__dataclass_fields__}
    values["threshold"] = float(values["threshold"])
    return values


class Gate:
    """The whole gate for one model."""

    def __init__(self, stats: GateStats) -> None:
        self.stats = stats

    def check_image(
        self, gray: np.ndarray, colour: np.ndarray | None = None, *, mask: np.ndarray | None = None
    ) -> Verdict:
        """Checks 1 and 2: everything that needs no model. `mask`: `statistics_mask(gray)`,
        when the caller has it already."""
        return self.check_images([(gray, colour)], [mask])[0]

    def check_images(
        self,
        images: Sequence[tuple[np.ndarray, np.ndarray | None]],
        masks: Sequence[np.ndarray | None] | None = None,
    ) -> list[Verdict]:
        """`check_image` of each (gray, colour) pair: the statistics distances of all the
        slices that pass the plain checks in one `StatisticsCheck.distances` call."""
        verdicts = [plain_checks(gray, colour) for gray, colour in images]
        passed = [i for i, verdict in enumerate(verdicts) if verdict.accepted]
        if not passed:
            return verdicts
        given = masks if masks is not None else [None] * len(images)
        statistics = np.stack([image_statistics(images[i][0], mask=given[i]) for i in passed])
        check = self.stats.statistics
        for i, distance in zip(passed, check.distances(statistics), strict=True):
            layout = _verdict(
                float(distance) / check.threshold,
                "its layout (head shape, background, gray levels, edges) is unlike an MRI slice.",
            )
            verdicts[i] = worse(verdicts[i], layout)
        return verdicts

    def check_features(self, features: np.ndarray) -> Verdict:
        """Check 3, on the pooled last-conv features of the model's forward pass."""
        return self.check_features_many(np.asarray(features)[np.newaxis])[0][0]

    def check_features_many(self, features: np.ndarray) -> list[tuple[Verdict, bool]]:
        """Check 3 and `is_unfamiliar` of each row of (m, k) pooled features, from one
        distance per row (both compare the same distance with their own limit)."""
        check, limit = self.stats.features, self.stats.unfamiliar_threshold
        return [
            (
                _verdict(
                    float(distance) / check.threshold,
                    "its content is unlike the brain MRI slices the model knows.",
                ),
                limit is not None and float(distance) > limit,
            )
            for distance in check.distances(features)
        ]

    def is_unfamiliar(self, features: np.ndarray) -> bool:
        """Farther from the training slices than the lower "unfamiliar" limit: the slice is
        analysed, but the result is less reliable than on slices like those validated."""
        return self.check_features_many(np.asarray(features)[np.newaxis])[0][1]


def worse(first: Verdict, second: Verdict) -> Verdict:
    """The verdict with the higher score: a rejection always wins over an acceptance."""
    return second if second.score > first.score else first
