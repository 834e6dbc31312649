"""The per-source report: Grad-CAM scoring on tumour masks and the Markdown tables."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ml.cli.evaluate_sources import SOURCE_NAMES, gradcam_scores, markdown
from ml.data.sources import BRATS_DIR, Item
from ml.tests.source_rows import source_row


def test_gradcam_scores_count_mass_and_the_hottest_pixel_inside_the_mask(tmp_path):
    masks = tmp_path / BRATS_DIR / "masks"
    masks.mkdir(parents=True)
    mask = np.zeros((40, 40), np.uint8)
    mask[10:20, 10:20] = 255
    items, heatmaps = [], []
    for i, (y, x) in enumerate([(15, 15), (35, 35)]):  # one hit, one miss
        name = f"p{i}_T1c_z00{i}.png"
        cv2.imwrite(str(masks / name), mask)
        items.append(Item(name, Path(name), 0, "brats-tcga", f"p{i}"))
        heat = np.zeros((40, 40), np.uint8)
        heat[y - 2 : y + 3, x - 2 : x + 3] = 200
        heatmaps.append(heat)
    scores = gradcam_scores(items, heatmaps, tmp_path, n_boot=50)
    assert scores["pointing_hit"]["value"] == pytest.approx(0.5)
    assert scores["mass_inside_tumour"]["value"] == pytest.approx(0.5)
    assert scores["pointing_hit"]["ci95"][0] <= 0.5 <= scores["pointing_hit"]["ci95"][1]


def test_the_report_has_a_row_per_source_and_says_what_was_not_analysed():
    sources = {
        "ixi_test": source_row(
            "ixi_test", [2, 2, 2], [0.1, 0.1, 0.9], [True, True, False], ["a", "b", "c"]
        ),
        "brats": source_row("brats", [0, 0], [0.9, 0.1], [True, True], ["p", "q"]),
    }
    rows = {
        "unchanged": {"agreement": 1.0, "gate_pass": 0.5},
        "gamma 0.6": {"agreement": 0.75, "gate_pass": 0.25},
    }
    report = {
        "model": "m-1",
        "sha256": "ab" * 32,
        "risk_thresholds": {"medium": 0.2, "high": 0.5},
        "bootstrap_resamples": 20,
        "sources": sources,
        "gradcam_brats": {
            "mass_inside_tumour": {"value": 0.4, "ci95": [0.3, 0.5]},
            "pointing_hit": {"value": 0.6, "ci95": [0.5, 0.7]},
        },
        "robustness": {"ixi_test": {"n": 4, "rows": rows}},
    }
    text = markdown(report, "python -m ml.evaluate_sources")
    ixi_row = next(
        line for line in text.splitlines() if line.startswith(f"| {SOURCE_NAMES['ixi_test']}")
    )
    assert "| 3 | 3 | 66.7 %" in ixi_row  # slices, people, gate pass
    assert SOURCE_NAMES["brats"] in text
    assert "| gamma 0.6 | 75.0 % / 25.0 % |" in text
    assert "pointing game" in text
    assert "60.0 %" in text
