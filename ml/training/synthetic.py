"""Tumour-aware synthetic examples: a glioma-like lesion drawn into a normal slice.

Every glioma the model trains on is a figshare slice (one hospital group, contrast T1), so
"looks like figshare" is the cheapest way to say "glioma", and a glioma from any other
hospital looks like "no tumour". A lesion drawn into the normal slices of EVERY source
(Br35H/SARTAJ, IXI, the few figshare normals) gives the glioma class evidence that is the
lesion itself, in the same head, scanner and export as a normal.

The lesion is procedural, not cut from the BraTS/TCGA masks: that set stays a test set of
8 patients never trained on (and its licence is non-commercial). It follows what gliomas
show across sequences, in the host's own gray levels (quantile mapping inside the host's
head, so it fits any sequence, contrast or export):
- an irregular blob (smoothed noise inside an ellipse), 8-35 % of the head's size, placed
  inside the head away from the skull;
- one of three patterns: a bright rim around a dark necrotic core (glioblastoma on
  contrast T1), a solid bright mass (FLAIR / T2), or a solid dark mass (non-contrast T1);
- often a halo of oedema (a little darker on T1-like hosts, brighter on T2-like ones);
- coarse and fine texture noise and a feathered edge, so no hard outline marks the paste.

Works on the resized head crop and its mask before the intensity standardisation, like
ml.image.augment (numpy and OpenCV only).
"""

from __future__ import annotations

import cv2
import numpy as np

from ml.image.arrays import as_float32
from ml.image.augment import erode_head

Rng = np.random.Generator
SIZE_RANGE = (0.08, 0.35)  # lesion diameter, share of the head's extent
PATTERNS = ("ring", "bright", "dark")


def add_lesion(crop: np.ndarray, mask: np.ndarray, rng: Rng) -> np.ndarray:
    """The crop (uint8, size x size) with one synthetic lesion inside its head mask, or the
    crop unchanged if the head is too small to hold one."""
    inner = _inner(mask)
    if inner.sum() < 0.05 * mask.size:
        return crop
    ys, xs = np.nonzero(mask)
    extent = max(xs.max() - xs.min(), ys.max() - ys.min()) + 1
    diameter = max(6, int(round(rng.uniform(*SIZE_RANGE) * extent)))
    cy, cx = _centre(inner, rng)
    tissue = np.sort(crop[inner].astype(np.float32))
    levels = _levels(str(rng.choice(PATTERNS)), rng)
    values, alpha = _lesion(crop.shape, (cy, cx), diameter, levels, tissue, rng)
    alpha = alpha * mask
    out = crop.astype(np.float32) * (1 - alpha) + values * alpha
    lesioned: np.ndarray = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return lesioned


def _inner(mask: np.ndarray) -> np.ndarray:
    """The head mask eroded by 12 % of its size: brain, not skull or scalp."""
    return erode_head(mask, 0.12) if mask.any() else mask


def _centre(inner: np.ndarray, rng: Rng) -> tuple[int, int]:
    ys, xs = np.nonzero(inner)
    i = int(rng.integers(len(xs)))
    return int(ys[i]), int(xs[i])


def _levels(pattern: str, rng: Rng) -> dict[str, float]:
    """Quantiles of the host's head tissue for core, rim and oedema (-1: absent)."""
    oedema_bright = rng.random() < 0.5
    oedema = float(rng.uniform(0.6, 0.85) if oedema_bright else rng.uniform(0.1, 0.35))
    levels = {"oedema": oedema if rng.random() < 0.6 else -1.0}
    if pattern == "ring":
        levels.update(core=rng.uniform(0.01, 0.2), rim=rng.uniform(0.9, 0.995))
    elif pattern == "bright":
        levels.update(core=rng.uniform(0.85, 0.99), rim=-1.0)
    else:
        levels.update(core=rng.uniform(0.01, 0.15), rim=-1.0)
    return {k: float(v) for k, v in levels.items()}


def _blob(shape: tuple[int, ...], centre: tuple[int, int], diameter: int, rng: Rng) -> np.ndarray:
    """A soft irregular blob (0..1): an ellipse whose edge is pushed by smooth noise."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    a = diameter / 2 * rng.uniform(0.7, 1.0)
    b = a * rng.uniform(0.55, 1.0)
    dy, dx = yy - centre[0], xx - centre[1]
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / a
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / b
    radius = np.sqrt(u**2 + v**2)
    noise = as_float32(
        cv2.GaussianBlur(
            rng.standard_normal(shape).astype(np.float32), (0, 0), max(1.0, diameter / 6)
        )
    )
    noise /= np.abs(noise).max() + 1e-6
    blob: np.ndarray = np.clip((1.0 + 0.35 * noise - radius) * 4.0, 0.0, 1.0)  # float64
    return blob


def _lesion(
    shape: tuple[int, ...],
    centre: tuple[int, int],
    diameter: int,
    levels: dict[str, float],
    tissue: np.ndarray,
    rng: Rng,
) -> tuple[np.ndarray, np.ndarray]:
    """(gray levels, alpha) of the lesion: rings of core / rim / oedema by distance from
    the blob's inside, each taking the host tissue's gray level at its quantile."""
    body = _blob(shape, centre, diameter, rng)

    def gray(q: float) -> float:
        return float(tissue[min(len(tissue) - 1, int(q * len(tissue)))])

    values: np.ndarray = np.full(shape, gray(levels["core"]), np.float32)
    alpha = body.copy()
    if levels["rim"] >= 0:
        core = _blob(shape, centre, int(diameter * rng.uniform(0.45, 0.7)), rng)
        values = gray(levels["rim"]) * (1 - core) + gray(levels["core"]) * core
    if levels["oedema"] >= 0:
        halo = _blob(shape, centre, int(diameter * rng.uniform(1.3, 1.9)), rng)
        halo *= rng.uniform(0.6, 0.95)
        values = values * body + gray(levels["oedema"]) * (1 - body)
        alpha = np.maximum(body, halo)
    # Heterogeneous tissue: coarse and fine noise, a few gray levels either way.
    coarse = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 2.0)
    fine = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 0.7)
    spread = float(tissue[int(0.9 * (len(tissue) - 1))] - tissue[int(0.1 * (len(tissue) - 1))])
    values = values + spread * (0.5 * coarse / (np.abs(coarse).max() + 1e-6) + 0.06 * fine)
    return values, cv2.GaussianBlur(alpha, (0, 0), 0.8)
