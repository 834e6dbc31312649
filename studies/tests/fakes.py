"""A stand-in engine for the study tests: it reads each slice it is given, so results follow
the images (the phantom's bright lesion makes a slice "glioma"), with the real result shape.
Its numbers are test data, not predictions; the real engine's batching is tested in ml/tests.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import cv2
import numpy as np

from ml.serving.overlay import heatmap_png
from predictions.tests.fakes import REJECTED, FakeAnalysis

TUMOUR = {"glioma": 0.9, "meningioma": 0.04, "notumor": 0.03, "pituitary": 0.03}
NORMAL = {"glioma": 0.01, "meningioma": 0.01, "notumor": 0.97, "pituitary": 0.01}


class FakeStudyEngine:
    version = "fake-study-1"
    sha256 = "e" * 64

    def __init__(self, study_rule: dict | None = None, *, fail_after: int | None = None) -> None:
        extra = {"study_rule": study_rule} if study_rule else {}
        self.card = SimpleNamespace(
            extra=extra, risk_thresholds={"medium": 0.2, "high": 0.5}, normal_class="notumor"
        )
        self.batches: list[int] = []
        self.fail_after = fail_after

    def analyze_batch(self, images: list[bytes], *, explain: bool = True) -> list[FakeAnalysis]:
        if self.fail_after is not None and sum(self.batches) >= self.fail_after:
            raise SystemExit("worker killed")  # as a SIGKILL would stop it: nothing is written
        self.batches.append(len(images))
        return [self._one(image) for image in images]

    def _one(self, image: bytes) -> FakeAnalysis:
        decoded = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert decoded is not None
        gray: np.ndarray = decoded
        if float((gray > 0).mean()) < 0.05:
            return dataclasses.replace(REJECTED, model_version=self.version)
        lesion = float((gray > 230).mean())  # the phantom's lesion is its brightest part
        probabilities = TUMOUR if lesion > 0.002 else NORMAL
        label = max(probabilities, key=probabilities.__getitem__)
        heat = cv2.GaussianBlur((gray > 230).astype(np.float32), (0, 0), 3)
        return FakeAnalysis(
            label=label,
            probabilities=probabilities,
            confidence=probabilities[label],
            tumour_probability=round(1 - probabilities["notumor"], 4),
            risk="high" if label != "notumor" else "low",
            heatmap_png=heatmap_png(heat / max(float(heat.max()), 1e-6)),
            overlay_png=b"",
            width=gray.shape[1],
            height=gray.shape[0],
            model_version=self.version,
            model_sha256=self.sha256,
        )
