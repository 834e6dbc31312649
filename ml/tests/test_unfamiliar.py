"""The "unfamiliar image" flag: a second, lower limit on the gate's feature distance."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ml.gate.checks import GateStats
from ml.serving.engine import Engine
from ml.testing import mri_like_png, write_tiny_artifacts


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return write_tiny_artifacts(tmp_path_factory.mktemp("unfamiliar"))


def _engine_with_limit(model_path, tmp_path, limit):
    stats = GateStats.load(model_path.with_name("gate.npz"))
    gate = tmp_path / "gate.npz"
    replace(stats, unfamiliar_threshold=limit, unfamiliar_quantile=0.98).save(gate)
    return Engine.load(model_path, gate_path=gate)


def test_slices_beyond_the_lower_limit_are_analysed_and_flagged(model_path, tmp_path):
    engine = _engine_with_limit(model_path, tmp_path, 0.0)
    result = engine.analyze(mri_like_png(64, 5))
    assert result.accepted
    assert result.label is not None
    assert result.unfamiliar is True


def test_slices_within_the_lower_limit_are_not_flagged(model_path, tmp_path):
    engine = _engine_with_limit(model_path, tmp_path, 1e9)
    assert engine.analyze(mri_like_png(64, 5)).unfamiliar is False


def test_old_gate_files_without_the_limit_flag_nothing(model_path, tmp_path):
    stats = GateStats.load(model_path.with_name("gate.npz"))
    assert stats.unfamiliar_threshold is None
    saved = tmp_path / "kept.npz"
    replace(stats, unfamiliar_threshold=2.5, unfamiliar_quantile=0.98).save(saved)
    assert GateStats.load(saved).unfamiliar_threshold == pytest.approx(2.5)
    assert Engine.load(model_path).analyze(mri_like_png(64, 5)).unfamiliar is False


def test_ungated_analysis_keeps_the_verdict_and_still_classifies(model_path):
    engine = Engine.load(model_path)
    blank = np.zeros((80, 80), np.uint8)
    gated = engine.analyze(blank)
    alone = engine.analyze(blank, enforce_gate=False)
    assert not gated.accepted
    assert gated.label is None
    assert not alone.accepted
    assert alone.gate_reason
    assert alone.label is not None
    assert alone.heatmap_class is not None
    assert alone.heatmap_class != "notumor"
