"""Analysed scans with a real slice, heatmap and overlay on disk, for the viewer and review-desk
browser tests (the FAKE numbers of predictions.tests.history; no model runs)."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from PIL import Image

from accounts.models import User
from ml.serving.overlay import heatmap_png, overlay_png
from predictions.models import Scan
from predictions.tests.history import make_scan


def slice_array(size: int = 256, seed: int = 1) -> np.ndarray:
    """A head-like slice with structure: a bright ring, gray brain with texture, dark spots."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    r = ((xx - 0.5) / 0.4) ** 2 + ((yy - 0.5) / 0.46) ** 2
    image = np.where((r < 1.0) & (r > 0.85), 220.0, 0.0)
    brain = (r <= 0.85) * (110 + 60 * np.sin(xx * 25) * np.cos(yy * 19))
    image = image + brain + (r <= 0.85) * rng.normal(0, 8, (size, size))
    image[(((xx - 0.45) / 0.05) ** 2 + ((yy - 0.5) / 0.12) ** 2) < 1] = 30
    return np.clip(image, 0, 255).astype(np.uint8)


def heat_array(size: int = 256) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return np.exp(-(((xx - 0.62 * size) ** 2 + (yy - 0.4 * size) ** 2) / (0.01 * size**2)))


def png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def analysed_scan(owner: User, *, label: str = "glioma", size: int = 256, **fields: Any) -> Scan:
    """A finished scan of `owner` whose stored slice and heatmap are real PNGs of `size` px."""
    gray, heat = slice_array(size), heat_array(size)
    data = png(gray)
    scan = make_scan(owner, label=label, heatmap_class="glioma", **fields)
    scan.image.save("scan.png", ContentFile(data), save=False)
    scan.sha256 = hashlib.sha256(data).hexdigest()
    scan.width = scan.height = size
    scan.file_size = len(data)
    scan.save()
    prediction = scan.prediction
    prediction.heatmap.save("heatmap.png", ContentFile(heatmap_png(heat)), save=False)
    prediction.overlay.save("overlay.png", ContentFile(overlay_png(gray, heat)), save=False)
    prediction.save()
    return scan
