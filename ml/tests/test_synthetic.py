"""Synthetic lesions: drawn inside the head only, in the host's gray levels, seeded, and
turned into glioma labels in the training batches at the configured share."""

from __future__ import annotations

import cv2
import numpy as np

from ml import CLASS_NAMES
from ml.image.preprocess import METHOD_RANK, head_crop
from ml.training.config import TrainConfig
from ml.training.pipeline import TrainData, augmented_batches
from ml.training.synthetic import _inner, add_lesion


def _head(size: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size), np.uint8)
    cv2.ellipse(img, (size // 2, size // 2), (size // 3, size // 2 - 6), 0, 0, 360, 110, -1)
    return cv2.add(img, (rng.integers(0, 40, img.shape) * (img > 0)).astype(np.uint8))


def test_a_lesion_changes_the_brain_and_nothing_outside_the_head():
    crop, mask, _, _ = head_crop(_head(), 64)
    out = add_lesion(crop, mask, np.random.default_rng(1))
    changed = out != crop
    assert out.dtype == np.uint8
    assert out.shape == crop.shape
    assert changed.sum() > 20
    assert not changed[~mask].any()
    # the lesion sits inside the brain: its strongest change is away from the skull
    diff = np.abs(out.astype(int) - crop.astype(int))
    peak = np.unravel_index(int(np.argmax(diff)), diff.shape)
    assert _inner(mask)[peak]


def test_lesions_use_the_hosts_gray_levels_and_are_seeded():
    crop, mask, _, _ = head_crop(_head(), 64)
    lesions = [add_lesion(crop, mask, np.random.default_rng(s)) for s in range(12)]
    assert np.array_equal(lesions[0], add_lesion(crop, mask, np.random.default_rng(0)))
    assert len({x.tobytes() for x in lesions}) == 12
    tissue = crop[mask]
    for out in lesions:
        inside = out[mask & (out != crop)]
        # the host tissue's own gray levels, give or take the texture noise: never black
        assert inside.min() >= 0.5 * tissue.min()
    # brighter and darker patterns both occur
    means = [float(out[mask].mean()) - float(crop[mask].mean()) for out in lesions]
    assert min(means) < 0 < max(means)


def test_a_head_too_small_to_hold_a_lesion_is_left_alone():
    crop = np.zeros((64, 64), np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[30:34, 30:34] = True
    crop[mask] = 100
    assert np.array_equal(add_lesion(crop, mask, np.random.default_rng(0)), crop)


def _data(n: int = 64) -> TrainData:
    crop, mask, _, _ = head_crop(_head(), 32)
    y = np.array(
        [CLASS_NAMES.index("notumor")] * (n // 2) + [CLASS_NAMES.index("pituitary")] * (n // 2)
    )
    unused = np.empty(0)  # augmented_batches reads the crops, masks and labels only
    return TrainData(
        train=[], val=[], crops=np.stack([crop] * n), masks=np.stack([mask] * n),
        x_train=unused, x_val=unused, y_train=y, y_val=unused,
    )  # fmt: skip


def _labels(share: float) -> np.ndarray:
    cfg = TrainConfig(
        data="", out="", augment="geometric", batch_size=64, size=32, preprocessing=METHOD_RANK,
        synthetic_tumours=share,
    )  # fmt: skip
    data = _data()
    _, onehot, _ = next(augmented_batches(data, cfg, np.ones(len(data.y_train)), seed=0))
    labels: np.ndarray = onehot.argmax(1)
    return labels


def test_the_configured_share_of_normals_becomes_glioma_and_tumours_stay():
    glioma, normal, pituitary = (CLASS_NAMES.index(c) for c in ("glioma", "notumor", "pituitary"))
    none = _labels(0.0)
    assert (none == glioma).sum() == 0
    half = _labels(0.5)
    assert 6 <= (half == glioma).sum() <= 26  # about 16 of the 32 normals
    assert (half == pituitary).sum() == 32  # tumours are never relabelled
    assert (half == glioma).sum() + (half == normal).sum() == 32
    assert (_labels(1.0) == glioma).sum() == 32
