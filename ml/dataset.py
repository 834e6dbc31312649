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

import numpy as np

from ml import CLASS_NAMES
from ml.imageio import decode_image
from ml.preprocess import prepare_uint8

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
SPLITS = ("Training", "Testing")
# Bump when preprocess.py changes behaviour, so stale caches are not reused.
PREPROCESS_VERSION = "crop-otsu-half-v1"
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent / "var" / "cache"


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


def parallel_map(fn: Callable, items: Iterable, *, processes: int = 2) -> Iterator:
    """Ordered map over a small process pool; processes=1 runs inline (tests, debugging)."""
    items = list(items)
    if processes <= 1 or len(items) < 64:
        yield from map(fn, items)
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes) as pool:
        yield from pool.imap(fn, items, chunksize=32)


def _prepare_file(args: tuple[str, int]) -> np.ndarray:
    path, size = args
    return prepare_uint8(decode_image(Path(path).read_bytes()), size)[0]


def _cache_key(samples: list[Sample], size: int) -> str:
    digest = hashlib.sha256(PREPROCESS_VERSION.encode())
    for s in samples:
        digest.update(f"{s.relpath}:{s.label}\n".encode())
    return f"prepared-{size}px-{digest.hexdigest()[:12]}"


def load_prepared(
    data_dir: str | Path,
    samples: list[Sample],
    size: int,
    *,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    processes: int = 2,
) -> np.ndarray:
    """uint8 array (n, size, size) of prepared images, decoded once and cached on disk."""
    cache = Path(cache_dir) / f"{_cache_key(samples, size)}.npy"
    if cache.exists():
        return np.load(cache)
    root = Path(data_dir)
    jobs = [(str(root / s.relpath), size) for s in samples]
    arrays = np.stack(list(parallel_map(_prepare_file, jobs, processes=processes)))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npy")
    np.save(tmp, arrays)
    tmp.replace(cache)
    return arrays
