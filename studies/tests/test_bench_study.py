"""bench/study.py's pieces on the tiny real model (the benchmark itself is `make bench-study`):
its sagittal series reads back as the volume it was cut from, and each measurement runs."""

from __future__ import annotations

import numpy as np
import pytest

from bench.study import (
    batched_vs_single,
    markdown,
    phantom_volume,
    sagittal_files,
    upload_to_summary,
)
from ml.serving.engine import Engine
from ml.testing import PHANTOM_LESION_RAS, write_tiny_artifacts
from studies.reading import Limits, read_study
from studies.tests.conftest import Upload


def test_the_benchmark_series_is_a_sagittal_volume_with_the_phantom_in_place():
    files = sagittal_files(phantom_volume(120), slices=100, side=128)

    study = read_study([Upload(f) for f in files], Limits(10**9, 10**4, 10**4, 10**9, 10**7))

    [series] = study.series
    assert "3-D sagittal volume" in series.handling
    import cv2

    counts = [
        int((cv2.imdecode(np.frombuffer(s.png, np.uint8), 0) > 200).sum()) for s in series.slices
    ]
    lesion = series.slices[int(np.argmax(counts))]
    assert abs(lesion.position_mm - PHANTOM_LESION_RAS[2]) <= 2.5


@pytest.mark.django_db(transaction=True)
def test_the_measurements_run(tmp_path, monkeypatch):
    import predictions.tasks

    monkeypatch.setattr("predictions.tasks._engine", predictions.tasks._engine)  # restored after
    engine = Engine.load(write_tiny_artifacts(tmp_path / "tiny"))
    files = sagittal_files(phantom_volume(100), slices=40, side=112)

    study = upload_to_summary(files, engine)
    batch = batched_vs_single(engine, study.pop("pngs"), 8)

    assert study["status_code"] == 302
    assert study["study_status"] in ("done", "rejected")
    assert study["axial_slices"] > 0
    assert batch["slices"] == study["axial_slices"]
    text = markdown(
        {"study": study, "batch": batch, "volume": "phantom", "model_version": engine.version,
         "machine": {"date": "d", "nproc": 2, "cpu": "c", "ram_gib": 1, "load_average_at_start": [0, 0, 0], "commit": "x"}}
    )  # fmt: skip
    assert "end of upload -> study summary" in text
