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


def test_a_batch_gives_each_slice_its_single_slice_result(engine):
    photo = np.dstack([np.full((64, 64), c, np.uint8) for c in (250, 30, 30)])  # the gate refuses
    images = [mri_like_png(96 + 8 * i, seed=i) for i in range(7)]
    images.insert(3, cv2.imencode(".png", photo)[1].tobytes())

    batch = engine.analyze_batch(images)
    single = [engine.analyze(image) for image in images]

    assert len(batch) == len(images)
    for b, s in zip(batch, single, strict=True):
        assert b.accepted == s.accepted
        assert b.gate_reason == s.gate_reason
        if not s.accepted:
            assert b.heatmap_png is None
            continue
        assert b.label == s.label
        assert b.heatmap_class == s.heatmap_class
        assert b.risk == s.risk
        for name, p in s.probabilities.items():
            assert b.probabilities[name] == pytest.approx(p, abs=1e-5)
        assert np.abs(_heatmap(b.heatmap_png) - _heatmap(s.heatmap_png)).max() <= 2
        assert b.heatmap_inside_brain == pytest.approx(s.heatmap_inside_brain, abs=0.01)
        assert b.overlay_png == b""  # the study viewer blends the heatmap itself
    assert not batch[3].accepted
    assert batch[0].timings_ms["batch_size"] == len(images)


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
