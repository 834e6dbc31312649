"""Tiny real images made in memory, so tests never need the data set."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def mri_like(size: int = 64, seed: int = 0) -> np.ndarray:
    """A bright ellipse with texture on black: shaped like an axial slice."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    inside = ((xx - size / 2) / (size * 0.4)) ** 2 + ((yy - size / 2) / (size * 0.45)) ** 2 < 1
    image = np.where(inside, 90 + rng.normal(0, 25, (size, size)), 0)
    return np.clip(image, 0, 255).astype(np.uint8)


def image_bytes(fmt: str = "PNG", size: int = 64, mode: str = "L", seed: int = 0) -> bytes:
    image = Image.fromarray(mri_like(size, seed)).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def png_bytes(size: int = 64, seed: int = 0) -> bytes:
    return image_bytes("PNG", size=size, seed=seed)


def jpeg_bytes(size: int = 64, seed: int = 0) -> bytes:
    return image_bytes("JPEG", size=size, seed=seed)
