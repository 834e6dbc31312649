"""Perceptual hashes and grouping for finding near-duplicate images.

Own numpy/OpenCV code (no extra dependency). Hashes are 64-bit ints so Hamming distances
over all ~25 M pairs of the data set are a vectorised XOR + popcount.
"""

from __future__ import annotations

import cv2
import numpy as np


def phash(gray: np.ndarray) -> int:
    """DCT hash: 8x8 lowest frequencies of a 32x32 thumbnail, thresholded at their median."""
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low[1:])  # skip DC: it is brightness, not structure
    return _bits_to_int(bits)


def dhash(gray: np.ndarray) -> int:
    """Difference hash: is each pixel of a 9x8 thumbnail brighter than its right neighbour."""
    small = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    return _bits_to_int((small[:, 1:] > small[:, :-1]).flatten())


def _bits_to_int(bits: np.ndarray) -> int:
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def hamming_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Hamming distances (uint8) between two uint64 hash vectors."""
    x = np.bitwise_xor(a.astype(np.uint64)[:, None], b.astype(np.uint64)[None, :])
    return np.bitwise_count(x).astype(np.uint8)


def close_pairs(
    hashes: np.ndarray, threshold: int, *, chunk: int = 1024
) -> list[tuple[int, int, int]]:
    """All (i, j, distance) with i < j and distance <= threshold, in chunks to bound memory."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    pairs: list[tuple[int, int, int]] = []
    for start in range(0, len(hashes), chunk):
        block = hamming_matrix(hashes[start : start + chunk], hashes)
        rows, cols = np.nonzero(block <= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if i < c:
                pairs.append((i, c, int(block[r, c])))
    return pairs


class UnionFind:
    """Disjoint sets with path halving; groups near-duplicates transitively."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)

    def groups(self) -> list[int]:
        """Group id of every element: the smallest index in its set."""
        return [self.find(i) for i in range(len(self.parent))]
