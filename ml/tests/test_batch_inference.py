"""`Engine.analyze_batch` gives, slice by slice, what `analyze` gives: one model call and one
Grad-CAM call for many slices must not change any result."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ml.serving.engine import Engine, UnreadableScan
from ml.testing import mri_like_png, write_tiny_artifacts


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return Engine.load(write_tiny_artifacts(tmp_path_factory.mktemp("tiny")))


def _heatmap(png: bytes) -> np.ndarray:
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded is not None
    return decoded.astype(np.int16)


def _batch_images() -> list[bytes | np.ndarray]:
    photo = np.dstack([np.full((64, 64), c, np.uint8) for c in (250, 30, 30)])  # the gate refuses
    images: list[bytes | np.ndarray] = [mri_like_png(96 + 8 * i, seed=i) for i in range(7)]
    images.insert(3, cv2.imencode(".png", photo)[1].tobytes())
    images.append(mri_like_png(300, seed=11))  # the gate's statistics shrink this one first
    return images


def test_a_batch_gives_each_slice_its_single_slice_result(engine):
    images = _batch_images()

    batch = engine.analyze_batch(images)
    single = [engine.analyze(image) for image in images]

    assert len(batch) == len(images)
    assert sum(s.accepted for s in single) == len(images) - 1
    for b, s in zip(batch, single, strict=True):
        assert b.accepted == s.accepted
        assert b.gate_reason == s.gate_reason
        assert b.gate_score == pytest.approx(s.gate_score, rel=1e-5)
        assert (b.width, b.height) == (s.width, s.height)
        if not s.accepted:
            assert b.heatmap_png is None
            continue
        assert b.label == s.label
        assert b.heatmap_class == s.heatmap_class
        assert b.risk == s.risk
        assert b.unfamiliar == s.unfamiliar
        for name, p in s.probabilities.items():
            assert b.probabilities[name] == pytest.approx(p, abs=1e-5)
        assert b.tumour_probability == pytest.approx(s.tumour_probability, abs=1e-5)
        assert b.confidence == pytest.approx(s.confidence, abs=1e-5)
        # One batched convolution sums in another order than one slice's: a heatmap level
        # may round the other way, never more.
        assert np.abs(_heatmap(b.heatmap_png) - _heatmap(s.heatmap_png)).max() <= 1
        assert b.heatmap_inside_brain == pytest.approx(s.heatmap_inside_brain, abs=1e-4)
        assert b.overlay_png == b""  # the study viewer blends the heatmap itself
    assert not batch[3].accepted
    assert batch[0].timings_ms["batch_size"] == len(images)


def test_the_gate_scores_a_batch_as_it_scores_each_slice(engine):
    from ml.gate.statistics import image_statistics
    from ml.serving.engine import _decode

    decoded = [_decode(image) for image in _batch_images()]
    grays = [gray for gray, _ in decoded]
    statistics = np.stack([image_statistics(gray) for gray in grays])
    check = engine.gate.stats.statistics

    assert (check.distances(statistics) == [check.distance(row) for row in statistics]).all()
    assert engine.gate.check_images(decoded) == [engine.gate.check_image(*d) for d in decoded]


def test_overlays_on_request_and_explain_off(engine):
    images = [mri_like_png(96, seed=i) for i in range(3)]

    with_overlay = engine.analyze_batch(images, overlay=True)
    plain = engine.analyze_batch(images, explain=False)

    assert all(r.overlay_png for r in with_overlay if r.accepted)
    assert all(r.heatmap_png is None for r in plain)
    assert [r.label for r in plain] == [r.label for r in with_overlay]


def test_an_undecodable_slice_fails_the_batch(engine):
    with pytest.raises(UnreadableScan):
        engine.analyze_batch([mri_like_png(96), b"not an image"])


def test_bfloat16_batches_on_request_leave_the_single_path_alone(tmp_path_factory, engine):
    images = _batch_images()
    fast = Engine.load(
        write_tiny_artifacts(tmp_path_factory.mktemp("tiny-bf16")), batch_bfloat16=True
    )

    batch = fast.analyze_batch(images)
    single = [fast.analyze(image, explain=False) for image in images]
    float32 = [engine.analyze(image, explain=False) for image in images]

    assert [s.probabilities for s in single] == [f.probabilities for f in float32]
    for b, s in zip(batch, single, strict=True):
        assert b.accepted == s.accepted
        for name, p in s.probabilities.items():
            assert b.probabilities[name] == pytest.approx(p, abs=0.02)


def test_auto_bfloat16_batches_only_where_the_cpu_has_bfloat16(tmp_path):
    from ml.serving.runtime import batch_bfloat16_wanted

    with_bf16 = tmp_path / "zen4"
    with_bf16.write_text("flags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n")
    without = tmp_path / "old"
    without.write_text("flags\t\t: fpu avx2 avx512f\n")
    assert batch_bfloat16_wanted("auto", with_bf16) is True
    assert batch_bfloat16_wanted("auto", without) is False
    assert batch_bfloat16_wanted("auto", tmp_path / "missing") is False
    assert batch_bfloat16_wanted("1", without) is True
    assert batch_bfloat16_wanted(" 0 ", with_bf16) is False
    with pytest.raises(ValueError, match="0, 1 or auto"):
        batch_bfloat16_wanted("yes", with_bf16)
