from __future__ import annotations

import numpy as np
import pytest

from ml.gate import GateStats, check_image, colour_preview, colourfulness, fit_stats
from ml.inference import Engine
from ml.nonmri import encode, generated
from ml.testing import mri_like, mri_like_png, write_tiny_artifacts


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return Engine.load(write_tiny_artifacts(tmp_path_factory.mktemp("tiny")))


def test_mri_like_slice_passes_the_cheap_checks():
    verdict = check_image(mri_like(200, seed=1))

    assert verdict.accepted
    assert verdict.score <= 1.0
    assert verdict.reason == ""


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (np.zeros((200, 200), np.uint8), "blank"),
        (np.full((200, 200), 128, np.uint8), "blank"),
        (mri_like(40, seed=1), "too small"),
        (np.hstack([mri_like(200, seed=1)] * 3), "far from square"),
        (255 - mri_like(200, seed=1), "background is bright"),
    ],
)
def test_cheap_checks_reject_with_a_readable_reason(image, reason):
    verdict = check_image(image)

    assert not verdict.accepted
    assert verdict.score > 1.0
    assert verdict.reason.startswith("This does not look like a brain MRI slice: ")
    assert reason in verdict.reason


def test_colour_is_judged_on_the_original_not_the_grayscale():
    rng = np.random.default_rng(0)
    colourful = rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)
    gray = mri_like(100, seed=3)

    assert not check_image(gray, colourful).accepted
    assert "colour" in check_image(gray, colourful).reason
    assert check_image(gray, np.repeat(gray[..., np.newaxis], 3, axis=2)).accepted


def test_colourfulness_is_zero_for_gray_and_matches_hasler_for_flat_red():
    gray = np.repeat(mri_like(64)[..., np.newaxis], 3, axis=2)
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255

    assert colourfulness(gray) == 0.0
    # no spread; mean offset: rg = 255, yb = (255 + 0) / 2 - 0, weighted by 0.3
    assert colourfulness(red) == pytest.approx(0.3 * np.hypot(255, 127.5))


def test_colour_preview_keeps_the_colour_of_encoded_images():
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[..., 2] = 200  # blue

    preview = colour_preview(encode(rgb))

    assert preview[..., 2].mean() > 150
    assert preview[..., 0].mean() < 50
    assert colour_preview(b"not an image") is None


def test_stats_distance_is_zero_at_a_class_mean_and_survives_a_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    features = rng.random((200, 5)) ** 2
    labels = np.repeat([0, 1], 100)
    stats = fit_stats(features, labels, features[:50], quantile=1.0, model_sha256="abc")
    stats.save(tmp_path / "gate.npz")

    loaded = GateStats.load(tmp_path / "gate.npz")
    class_mean = loaded.class_means[1] ** 2  # means live in sqrt space

    assert loaded.distance(class_mean) == pytest.approx(0.0, abs=1e-9)
    assert loaded.model_sha256 == "abc"
    assert loaded.threshold == pytest.approx(max(stats.distance(f) for f in features[:50]))


def test_threshold_is_the_quantile_of_the_calibration_distances():
    rng = np.random.default_rng(1)
    features = rng.random((300, 4))
    calibration = rng.random((101, 4))

    stats = fit_stats(features, np.zeros(300, int), calibration, quantile=0.9, model_sha256="")
    distances = np.array([stats.distance(f) for f in calibration])

    assert stats.threshold == pytest.approx(np.quantile(distances, 0.9))
    assert np.mean(distances <= stats.threshold) == pytest.approx(0.9, abs=0.01)


@pytest.mark.parametrize("seed", range(6))
def test_engine_passes_mri_like_slices(engine, seed):
    result = engine.analyze(mri_like_png([64, 150, 256][seed % 3], seed=seed), explain=False)

    assert result.accepted, result.gate_reason


GENERATED = list(generated(seed=7, per_kind=3))


@pytest.mark.parametrize("sample", GENERATED, ids=[s.name for s in GENERATED])
def test_engine_rejects_generated_non_mri_images(engine, sample):
    result = engine.analyze(sample.data)

    assert not result.accepted
    assert result.label is None
    assert result.gate_reason.startswith("This does not look like a brain MRI slice: ")
