"""A stand-in for ml.serving.engine.Engine with the same result shape, for fast Django tests.

Its numbers are test data, not predictions: the real engine runs in the ml tests and in the
integration tests with a real worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from predictions.tests.images import png_bytes


@dataclass(frozen=True)
class FakeAnalysis:
    accepted: bool = True
    gate_score: float = 0.2
    gate_reason: str = ""
    label: str | None = "glioma"
    probabilities: dict[str, float] = field(
        default_factory=lambda: {
            "glioma": 0.91,
            "meningioma": 0.05,
            "notumor": 0.02,
            "pituitary": 0.02,
        }
    )
    tumour_probability: float | None = 0.98
    risk: str | None = "high"
    confidence: float | None = 0.91
    heatmap_png: bytes | None = field(default_factory=lambda: png_bytes(16))
    overlay_png: bytes | None = field(default_factory=lambda: png_bytes(16, seed=1))
    heatmap_inside_brain: float | None = 0.85
    width: int = 64
    height: int = 64
    timings_ms: dict[str, float] = field(default_factory=lambda: {"total": 12.5})
    model_version: str = "fake-0.0.0"
    model_sha256: str = "0" * 64
    heatmap_class: str | None = "glioma"
    unfamiliar: bool = False


REJECTED = FakeAnalysis(
    accepted=False,
    gate_score=9.0,
    gate_reason="This does not look like a brain MRI slice.",
    label=None,
    probabilities={},
    tumour_probability=None,
    risk=None,
    confidence=None,
    heatmap_png=None,
    overlay_png=None,
    heatmap_inside_brain=None,
)


class FakeEngine:
    version = "fake-0.0.0"
    sha256 = "0" * 64

    def __init__(
        self, result: FakeAnalysis | None = None, error: BaseException | None = None
    ) -> None:
        self.result = result or FakeAnalysis()
        self.error = error
        self.calls = 0

    def analyze(self, image: bytes, *, explain: bool = True) -> FakeAnalysis:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.result
