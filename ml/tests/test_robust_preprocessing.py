"""Intensity standardisation, domain randomisation and source bookkeeping, on tiny images."""

from __future__ import annotations

import numpy as np
import pytest

from ml.data.sources import Item, source_weights, split_people
from ml.image import augment
from ml.image.arrays import as_gray
from ml.image.preprocess import (
    METHOD_RANK,
    METHOD_RANK_V3,
    METHOD_V1,
    brain_mask,
    finish_uint8,
    head_crop,
    prepare,
    rank_normalize,
)


def _head(size: int = 96, seed: int = 0) -> np.ndarray:
    """A bright ellipse with texture and a brighter blob, on a black background."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.zeros((size, size), np.uint8)
    cv2.ellipse(img, (size // 2, size // 2), (size // 3, size // 2 - 6), 0, 0, 360, 110, -1)
    img = as_gray(cv2.add(img, (rng.integers(0, 40, img.shape) * (img > 0)).astype(np.uint8)))
    cv2.circle(img, (size // 2 + 8, size // 2 - 5), 7, 220, -1)
    return img


def test_rank_normalisation_ignores_increasing_intensity_changes():
    gray = _head()
    base = prepare(gray, 32, METHOD_RANK).tensor
    for change in (lambda g: augment.gamma(g, 0.6), lambda g: augment.gamma(g, 1.6)):
        changed = prepare(change(gray), 32, METHOD_RANK).tensor
        assert np.abs(changed - base).mean() < 0.02
    # the unstandardised method does change with gamma
    v1 = prepare(gray, 32, METHOD_V1).tensor
    assert np.abs(prepare(augment.gamma(gray, 0.6), 32, METHOD_V1).tensor - v1).mean() > 0.05


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_v3_mask_is_the_v2_mask_on_a_black_background():
    gray = _head()
    assert np.array_equal(brain_mask(gray), brain_mask(gray, relative_to_background=True))
    v2, v3 = prepare(gray, 32, METHOD_RANK), prepare(gray, 32, METHOD_RANK_V3)
    assert np.array_equal(v2.tensor, v3.tensor)
    assert v2.bbox == v3.bbox


def test_v3_mask_and_input_do_not_move_when_a_widened_window_lifts_the_background():
    gray = _head()
    widened = augment.window(gray, -0.6, 1.2)  # black -> gray 85: above half of Otsu's
    assert int(widened.min()) > 80
    relative = brain_mask(widened, relative_to_background=True)
    assert _iou(relative, brain_mask(gray)) > 0.95
    assert _iou(brain_mask(widened), brain_mask(gray)) < 0.8  # v2's mask takes the frame
    base = prepare(gray, 32, METHOD_RANK_V3).tensor
    assert np.abs(prepare(widened, 32, METHOD_RANK_V3).tensor - base).mean() < 0.02
    assert np.abs(prepare(widened, 32, METHOD_RANK).tensor - base).mean() > 0.05


def test_v3_crops_are_cached_apart_from_v2_crops(tmp_path):
    import cv2

    from ml.data.samples import load_crops

    path = tmp_path / "head.png"
    cv2.imwrite(str(path), augment.window(_head(), -0.6, 1.2))
    _, mask_v2 = load_crops([path], 32, cache_dir=tmp_path, processes=1, method=METHOD_RANK)
    _, mask_v3 = load_crops([path], 32, cache_dir=tmp_path, processes=1, method=METHOD_RANK_V3)
    assert len(list(tmp_path.glob("*.npy"))) == 2
    assert not np.array_equal(mask_v2, mask_v3)


def test_rank_normalisation_is_zero_outside_the_head_and_spans_the_scale_inside():
    crop, mask, _, _ = head_crop(_head(), 48)
    out = rank_normalize(crop, mask)
    assert (out[~mask] == 0).all()
    assert out[mask].min() >= 1
    assert out[mask].max() >= 250
    assert abs(float(np.median(out[mask])) - 128) < 20  # ranks are spread evenly


def test_rank_normalisation_falls_back_to_the_whole_image_without_a_head():
    img = np.tile(np.arange(16, dtype=np.uint8) * 10, (16, 1))
    out = rank_normalize(img, np.zeros(img.shape, bool))
    assert (out > 0).all()


def test_prepare_hands_on_the_mask_it_computed_and_v1_is_unchanged():
    gray = _head()
    prepared = prepare(gray, 32)
    assert prepared.mask is not None
    assert prepared.mask.shape == gray.shape
    crop, crop_mask, bbox, _ = head_crop(gray, 32)
    assert np.array_equal(finish_uint8(crop, crop_mask, METHOD_V1), crop)
    assert prepared.bbox == bbox
    with pytest.raises(ValueError, match="unknown preprocessing"):
        finish_uint8(crop, crop_mask, "nope")


def test_randomize_keeps_shape_type_and_is_seeded():
    crop, mask, _, _ = head_crop(_head(), 48)
    a = augment.randomize(crop, mask, np.random.default_rng(3))
    b = augment.randomize(crop, mask, np.random.default_rng(3))
    assert a[0].dtype == np.uint8
    assert a[0].shape == crop.shape
    assert a[1].dtype == bool
    assert np.array_equal(a[0], b[0])
    assert np.array_equal(a[1], b[1])
    outputs = {
        augment.randomize(crop, mask, np.random.default_rng(s))[0].tobytes() for s in range(8)
    }
    assert len(outputs) == 8


def test_skull_strip_removes_the_rim_and_refills_the_frame():
    crop, mask, _, _ = head_crop(_head(), 64)
    stripped, brain = augment.skull_strip(crop.astype(np.float32), mask, 0.1)
    assert brain.sum() > 0.5 * mask.sum()  # cropped again, so the brain fills the frame
    assert stripped[~brain].mean() < 0.2 * crop[mask].mean()  # dark outside (edges blur)
    whole = augment.skull_strip_slice(_head(), 0.1)
    assert (whole > 0).sum() < (_head() > 0).sum()


def test_every_display_change_returns_a_slice_of_the_same_size():
    gray = _head()
    for name, change in augment.DISPLAY_CHANGES.items():
        out = change(gray)
        assert out.shape == gray.shape, name
        assert out.dtype == np.uint8, name
    rng = np.random.default_rng(0)
    for _ in range(20):
        out = augment.random_slice_change(gray, rng)
        assert out.shape == gray.shape
        assert out.dtype == np.uint8


def _items(people: int, per_person: int = 3) -> list[Item]:
    from pathlib import Path

    return [
        Item(f"k{p}-{s}", Path(f"{p}-{s}.png"), 2, "ixi", f"person-{p}")
        for p in range(people)
        for s in range(per_person)
    ]


def test_person_split_never_puts_one_person_in_two_parts():
    parts = split_people(_items(40), {"train": 0.5, "validation": 0.2, "test": 0.3}, seed=1)
    owners = [{i.person for i in part} for part in parts.values()]
    assert sum(len(o) for o in owners) == 40
    assert not (owners[0] & owners[1])
    assert not (owners[0] & owners[2])
    assert not (owners[1] & owners[2])
    assert len(owners[2]) == 12


def test_source_weights_balance_classes_and_lift_rare_sources():
    labels = np.array([0] * 90 + [0] * 10 + [1] * 50)
    sources = ["a"] * 90 + ["b"] * 10 + ["a"] * 50
    w = source_weights(labels, sources)
    assert w.mean() == pytest.approx(1.0)
    assert w[labels == 0].sum() == pytest.approx(w[labels == 1].sum())
    assert w[95] / w[0] == pytest.approx(3.0)  # sqrt(90 / 10)
    capped = source_weights(np.array([0] * 1000 + [0]), ["a"] * 1000 + ["b"], cap=6.0)
    assert capped[-1] / capped[0] == pytest.approx(6.0)


def test_the_histogram_percentile_is_numpys_to_the_last_bit():
    from ml.image.preprocess import percentile_uint8

    rng = np.random.default_rng(7)
    for _ in range(500):
        shape = (int(rng.integers(1, 40)), int(rng.integers(1, 40)))
        image = rng.integers(0, int(rng.integers(1, 256)) + 1, shape).astype(np.uint8)
        q = float(rng.choice([0.0, 2.0, 50.0, 97.3, 100.0, rng.uniform(0, 100)]))
        assert percentile_uint8(image, q) == float(np.percentile(image, q)), (shape, q)
