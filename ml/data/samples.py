"""Where the images are and how they are turned into cached training arrays.

Decoding ~7,000 JPEGs of up to 1920 px takes about a minute on two cores; doing it once
and caching the cropped, resized uint8 arrays (about 115 MB at 128 px) lets every epoch
and every experiment start at once.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from ml import CLASS_NAMES
from ml.artifacts import CACHE_DIR
from ml.image.decode import decode_image
from ml.image.preprocess import (
    METHOD_V1,
    finish_uint8,
    head_crop,
    uses_background_relative_mask,
)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
SPLITS = ("Training", "Testing")
# Bump when preprocess.py changes behaviour, so stale caches are not reused.
PREPROCESS_VERSION = "crop-otsu-half-v2"
DEFAULT_CACHE_DIR = CACHE_DIR


@dataclass(frozen=True)
class Sample:
    relpath: str  # "Training/glioma/Tr-gl_0001.jpg", relative to the data dir
    split: str
    label: int


def list_samples(data_dir: str | Path) -> list[Sample]:
    """All images under <split>/<class>/, sorted, so indices are stable across runs."""
    root = Path(data_dir)
    samples = []
    for split in SPLITS:
        for label, name in enumerate(CLASS_NAMES):
            folder = root / split / name
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    samples.append(Sample(path.relative_to(root).as_posix(), split, label))
    if not samples:
        raise FileNotFoundError(f"no images found under {root}/{{Training,Testing}}/<class>/")
    return samples


T = TypeVar("T")
R = TypeVar("R")


def parallel_map(fn: Callable[[T], R], items: Iterable[T], *, processes: int = 2) -> Iterator[R]:
    """Ordered map over a small process pool; processes=1 runs inline (tests, debugging)."""
    items = list(items)
    if processes <= 1 or len(items) < 64:
        yield from map(fn, items)
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes) as pool:
        yield from pool.imap(fn, items, chunksize=32)


def _prepare_file(args: tuple[str, int, str]) -> np.ndarray:
    path, size, method = args
    crop, crop_mask, _, _ = head_crop(decode_image(Path(path).read_bytes()), size, method)
    return finish_uint8(crop, crop_mask, method)


def _crop_file(args: tuple[str, int, str]) -> np.ndarray:
    """(2, size, size) uint8: the resized head crop and its mask (0/1), as `method` masks."""
    path, size, method = args
    crop, crop_mask, _, _ = head_crop(decode_image(Path(path).read_bytes()), size, method)
    return np.stack([crop, crop_mask.astype(np.uint8)])


def _cache_key(names: list[str], size: int, kind: str) -> str:
    digest = hashlib.sha256(f"{PREPROCESS_VERSION}:{kind}".encode())
    for name in names:
        digest.update(f"{name}\n".encode())
    return f"{kind}-{size}px-{digest.hexdigest()[:12]}"


def _cached(cache: Path, build: Callable[[], np.ndarray]) -> np.ndarray:
    if cache.exists():
        cached: np.ndarray = np.load(cache)
        return cached
    arrays = build()
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npy")
    np.save(tmp, arrays)
    tmp.replace(cache)
    return arrays


def load_prepared(
    data_dir: str | Path,
    samples: list[Sample],
    size: int,
    *,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    processes: int = 2,
    method: str = METHOD_V1,
) -> np.ndarray:
    """uint8 array (n, size, size) of prepared images, decoded once and cached on disk."""
    root = Path(data_dir)
    return load_prepared_paths(
        [root / s.relpath for s in samples],
        size,
        names=[f"{s.relpath}:{s.label}" for s in samples],
        cache_dir=cache_dir,
        processes=processes,
        method=method,
    )


def load_prepared_paths(
    paths: list[Path],
    size: int,
    *,
    names: list[str] | None = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    processes: int = 2,
    method: str = METHOD_V1,
) -> np.ndarray:
    """Model inputs (n, size, size) uint8 of image files, exactly as inference prepares
    them with `method`, cached under a key of the file names."""
    names = names if names is not None else [str(p) for p in paths]
    jobs = [(str(p), size, method) for p in paths]
    cache = Path(cache_dir) / f"{_cache_key(names, size, 'prepared-' + method)}.npy"
    return _cached(
        cache, lambda: np.stack(list(parallel_map(_prepare_file, jobs, processes=processes)))
    )


def load_crops(
    paths: list[Path],
    size: int,
    *,
    names: list[str] | None = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    processes: int = 2,
    method: str = METHOD_V1,
) -> tuple[np.ndarray, np.ndarray]:
    """Resized head crops (n, size, size) uint8 and their masks (n, size, size) bool,
    before any intensity step: what the training augmentations start from. Only the mask
    depends on `method` (crop-rank-v3's is relative to the background)."""
    names = names if names is not None else [str(p) for p in paths]
    jobs = [(str(p), size, method) for p in paths]
    kind = "crops-relative-mask" if uses_background_relative_mask(method) else "crops"
    cache = Path(cache_dir) / f"{_cache_key(names, size, kind)}.npy"
    both = _cached(
        cache, lambda: np.stack(list(parallel_map(_crop_file, jobs, processes=processes)))
    )
    return both[:, 0], both[:, 1].astype(bool)
