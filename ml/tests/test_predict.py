from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from ml.cli.predict import main
from ml.testing import mri_like_png, write_tiny_artifacts

FIELDS = {
    "file",
    "label",
    "probabilities",
    "tumour_probability",
    "risk",
    "accepted",
    "gate_score",
    "gate_reason",
    "heatmap_inside_brain",
    "heatmap_class",
    "unfamiliar",
    "timings_ms",
}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return write_tiny_artifacts(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def scans(tmp_path):
    good = tmp_path / "slice.png"
    good.write_bytes(mri_like_png(128, seed=1))
    blank = tmp_path / "blank.png"
    blank.write_bytes(mri_like_png(128, seed=1)[:8])  # PNG signature only: corrupt
    return good, blank


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_prints_one_json_line_with_all_fields_and_writes_the_overlay(
    model_path, scans, tmp_path, capsys
):
    good, _ = scans
    out_dir = tmp_path / "heatmaps"

    status = main([str(good), "--model", str(model_path), "--heatmap", str(out_dir)])

    [record] = _lines(capsys)
    assert status == 0
    assert set(record) == FIELDS
    assert record["file"] == str(good)
    assert record["accepted"] is True
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert (out_dir / "slice.overlay.png").read_bytes().startswith(b"\x89PNG")
    import cv2

    heatmap = cv2.imread(str(out_dir / "slice.heatmap.png"), cv2.IMREAD_UNCHANGED)
    source = cv2.imread(str(good), cv2.IMREAD_UNCHANGED)
    assert heatmap is not None
    assert source is not None
    assert heatmap.dtype.name == "uint8"
    assert heatmap.ndim == 2
    assert heatmap.shape == source.shape[:2]


def test_a_bad_file_gives_an_error_line_and_a_failing_exit_status(model_path, scans, capsys):
    good, corrupt = scans

    status = main(
        [str(corrupt), str(good), str(good.parent / "missing.png"), "--model", str(model_path)]
    )

    records = _lines(capsys)
    assert status == 1
    assert [set(r) for r in records] == [{"file", "error"}, FIELDS, {"file", "error"}]
    assert "unreadable image" in records[0]["error"]
    assert "cannot read file" in records[2]["error"]


def test_a_rejected_image_is_reported_without_a_label(model_path, tmp_path, capsys):
    import cv2

    white = tmp_path / "white.png"
    white.write_bytes(cv2.imencode(".png", np.full((200, 200), 250, np.uint8))[1].tobytes())

    main([str(white), "--model", str(model_path)])

    [record] = _lines(capsys)
    assert record["accepted"] is False
    assert record["label"] is None
    assert record["gate_reason"].startswith("This does not look like a brain MRI slice")


def test_missing_model_exits_with_status_2(tmp_path, scans, capsys):
    good, _ = scans

    assert main([str(good), "--model", str(tmp_path / "none.keras")]) == 2
    assert "model unavailable" in capsys.readouterr().err


def test_runs_as_a_module(model_path, scans):
    good, _ = scans
    done = subprocess.run(
        [sys.executable, "-m", "ml.predict", str(good), "--model", str(model_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    assert set(json.loads(done.stdout)) == FIELDS
