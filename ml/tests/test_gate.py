from __future__ import annotations

import io

import numpy as np
import pytest

from ml.data.nonmri import encode, generated
from ml.gate.checks import (
    FeatureCheck,
    Gate,
    GateStats,
    StatisticsCheck,
    colour_preview,
    coloured_share,
    is_gray_png,
    plain_checks,
)
from ml.serving.engine import Engine
from ml.testing import mri_like, mri_like_png, write_tiny_artifacts


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return Engine.load(write_tiny_artifacts(tmp_path_factory.mktemp("tiny")))


def test_mri_like_slice_passes_the_plain_checks():
    verdict = plain_checks(mri_like(200, seed=1))

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
def test_plain_checks_reject_with_a_readable_reason(image, reason):
    verdict = plain_checks(image)

    assert not verdict.accepted
    assert verdict.score > 1.0
    assert verdict.reason.startswith("This does not look like a brain MRI slice: ")
    assert reason in verdict.reason


def test_colour_is_judged_on_the_original_not_the_grayscale():
    rng = np.random.default_rng(0)
    colourful = rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)
    gray = mri_like(100, seed=3)

    assert not plain_checks(gray, colourful).accepted
    assert "colour" in plain_checks(gray, colourful).reason
    assert plain_checks(gray, np.repeat(gray[..., np.newaxis], 3, axis=2)).accepted


def test_coloured_share_counts_pixels_far_from_gray():
    image = np.repeat(mri_like(64)[..., np.newaxis], 3, axis=2)
    image[:16, :, 0] = 255  # a red band over a quarter of the rows

    assert coloured_share(np.repeat(mri_like(64)[..., np.newaxis], 3, axis=2)) == 0.0
    assert coloured_share(image) == pytest.approx(0.25, abs=0.02)


def test_colour_preview_keeps_the_colour_of_encoded_images():
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[..., 2] = 200  # blue

    preview = colour_preview(encode(rgb))

    assert preview is not None
    assert preview[..., 2].mean() > 150
    assert preview[..., 0].mean() < 50
    assert colour_preview(b"not an image") is None


def test_gray_pngs_are_known_gray_from_their_header():
    from PIL import Image

    from ml.image.png import encode_png

    gray = mri_like(64)
    with_alpha = io.BytesIO()
    Image.fromarray(np.stack([gray, gray], axis=2), "LA").save(with_alpha, format="PNG")
    for data in (encode_png(gray), with_alpha.getvalue()):
        assert is_gray_png(data)
        assert colour_preview(data) is None
    rgb = np.stack([gray] * 3, axis=2)
    for data in (encode_png(rgb), encode(rgb), encode_png(gray)[:20], b""):
        assert not is_gray_png(data)


def _gate_stats(rng: np.random.Generator) -> GateStats:
    features = rng.random((200, 5)) ** 2
    statistics = rng.normal(size=(200, 3))
    return GateStats(
        statistics=StatisticsCheck.fit(statistics, statistics[:50] + 0.1, 1.0),
        features=FeatureCheck.fit(features, np.repeat([0, 1], 100), features[:50], 1.0),
        quantile=1.0,
        model_sha256="abc",
    )


def test_gate_statistics_survive_a_round_trip(tmp_path):
    stats = _gate_stats(np.random.default_rng(0))
    stats.save(tmp_path / "gate.npz")

    loaded = GateStats.load(tmp_path / "gate.npz")

    assert loaded.model_sha256 == "abc"
    assert loaded.features.threshold == stats.features.threshold
    assert loaded.statistics.threshold == stats.statistics.threshold
    probe = np.array([0.3, -1.0, 2.0])
    assert loaded.statistics.distance(probe) == pytest.approx(stats.statistics.distance(probe))


def test_feature_distance_is_zero_at_a_class_mean():
    check = _gate_stats(np.random.default_rng(1)).features

    assert check.distance(check.class_means[1] ** 2) == pytest.approx(0.0, abs=1e-9)  # sqrt space


def test_statistics_distance_is_zero_for_a_training_point_and_scaled_by_spread():
    training = np.array([[0.0, 0.0], [100.0, 1.0], [200.0, 2.0]])  # std 81.6 and 0.816
    check = StatisticsCheck.fit(training, training, 1.0)

    assert check.distance(training[1]) == pytest.approx(0.0)
    # distances count in standard deviations: 0.5 on the narrow axis = 5 on the wide one
    narrow, wide = check.distance(training[1] + [0, 0.5]), check.distance(training[1] + [5, 0])
    assert narrow == pytest.approx(0.5 / 0.8165, rel=1e-3)
    assert narrow == pytest.approx(10 * wide)


def test_limit_is_the_quantile_of_the_calibration_distances():
    rng = np.random.default_rng(1)
    calibration = rng.random((101, 4))

    check = FeatureCheck.fit(rng.random((300, 4)), np.zeros(300, int), calibration, 0.9)
    distances = np.array([check.distance(f) for f in calibration])

    assert check.threshold == pytest.approx(np.quantile(distances, 0.9))
    assert np.mean(distances <= check.threshold) == pytest.approx(0.9, abs=0.01)


def test_the_gate_scores_by_its_worst_check():
    stats = _gate_stats(np.random.default_rng(2))
    gate = Gate(stats)
    far = np.full(5, 50.0)

    verdict = gate.check_features(far)

    assert verdict.score == pytest.approx(stats.features.distance(far) / stats.features.threshold)
    assert not verdict.accepted
    assert "content" in verdict.reason


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


def test_image_statistics_tell_a_head_on_black_from_noise():
    from ml.gate.statistics import NAMES, image_statistics

    head = dict(zip(NAMES, image_statistics(mri_like(200, seed=1)), strict=True))
    noise = np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)
    speckle = dict(zip(NAMES, image_statistics(noise), strict=True))

    assert head["dark_background"] > 0.95
    assert head["head_solidity"] > 0.9
    assert 0.3 < head["head_area"] < 0.8
    assert speckle["edge_sharpness"] > 2 * head["edge_sharpness"]
