from __future__ import annotations

import cv2
import numpy as np

from ml.data.duplicates import run_audit
from ml.data.hashing import UnionFind, dhash, hamming_matrix, phash


def _brain(seed: int, size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size), np.uint8)
    cv2.ellipse(img, (64, 64), (50, 58), 0, 0, 360, 100, -1)
    for _ in range(6):  # distinct internal structure per "patient"
        c = tuple(int(v) for v in rng.integers(30, 98, 2))
        cv2.circle(img, c, int(rng.integers(5, 18)), int(rng.integers(150, 255)), -1)
    return img


def test_hashes_are_stable_under_resave_and_differ_between_images():
    a, b = _brain(1), _brain(2)
    a_small = cv2.resize(a, (100, 100), interpolation=cv2.INTER_AREA)
    h = np.array([phash(a), phash(a_small), phash(b)], dtype=np.uint64)
    d = hamming_matrix(h, h)
    assert d[0, 1] <= 4
    assert d[0, 2] > 10
    assert dhash(a) == dhash(a.copy())


def test_union_find_groups_transitively():
    uf = UnionFind(5)
    uf.union(0, 1)
    uf.union(1, 2)
    uf.union(3, 4)
    g = uf.groups()
    assert g[0] == g[1] == g[2]
    assert g[3] == g[4] != g[0]


def test_audit_finds_cross_split_duplicates_and_keeps_unique_test_images(tmp_path):
    images = {
        "Training/glioma/a.png": _brain(1),
        "Training/glioma/b.png": _brain(2),
        "Testing/glioma/a_copy.png": _brain(1),  # exact pixel copy of a training image
        "Testing/glioma/c.png": _brain(3),
    }
    for rel, img in images.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / rel), img)
    _, summary = run_audit(tmp_path)
    assert summary["_leak_free_paths"] == ["Testing/glioma/c.png"]
    assert summary["exact_duplicates_pixels"]["cross_split_groups"] == 1
    assert summary["near_duplicate_groups"]["across_splits"] == 1
    assert summary["label_conflicts"] == []
