"""What the result page shows beyond the stored row: bars, the operating point, the gate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from predictions.model_card import Card, load_installed_card, operating_point_sentence
from predictions.models import Label, Prediction, Scan

# Formats a browser shows in an <img>; other stored formats (TIFF) go through the preview.
BROWSER_IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}
# Timings the engine reports, in pipeline order, with the words a clinician reads.
STAGE_NAMES = {
    "decode": "Decoding",
    "gate": "Input check",
    "preprocess": "Preprocessing",
    "model": "Classifier",
    "gradcam": "Grad-CAM",
    "overlay": "Overlay",
    "total": "Total",
}


@dataclass(frozen=True)
class ClassBar:
    value: str
    name: str
    probability: float
    predicted: bool

    @property
    def width(self) -> float:
        """Bar length out of 100; a sliver even at 0 so the empty bar still reads as a bar."""
        return max(round(self.probability * 100, 1), 0.8)


def result_context(scan: Scan) -> dict[str, Any]:
    prediction: Prediction = scan.prediction
    card = load_installed_card()
    return {
        "bars": class_bars(prediction),
        "card": card,
        "operating_point": operating_point_sentence(card),
        "card_mismatch": _card_mismatch(prediction, card),
        "gate_verdict": gate_verdict(prediction),
        "reliability_note": reliability_note(prediction),
        "timings": timing_rows(prediction.timings),
    }


def class_bars(prediction: Prediction) -> list[ClassBar]:
    probabilities = prediction.probabilities or {}
    return [
        ClassBar(value, name, float(probabilities.get(value, 0.0)), value == prediction.label)
        for value, name in Label.choices
        if value in probabilities
    ]


UNFAMILIAR_NOTE = (
    "Unfamiliar image: this scan is farther from the images the model was validated on "
    "than most of them, so this result is less reliable."
)


def reliability_note(prediction: Prediction) -> str:
    """The "unfamiliar image" warning for a finished result, or "" when there is none."""
    return UNFAMILIAR_NOTE if prediction.unfamiliar else ""


def gate_verdict(prediction: Prediction) -> str:
    """The input check in words; the score is <= 1 for an accepted slice, > 1 for a refused one."""
    if prediction.gate_accepted is None:
        return "Not checked yet."
    score = "" if prediction.gate_score is None else f" (score {prediction.gate_score:.2f}"
    score += "; 1.00 is the limit)" if score else ""
    if prediction.gate_accepted:
        return f"Accepted as a brain MRI slice{score}."
    return f"Refused: not recognised as a brain MRI slice{score}."


def timing_rows(timings: dict[str, float] | None) -> list[tuple[str, float]]:
    """Pipeline stages in order, any unknown stage after them, the total last."""
    timings = dict(timings or {})
    total = timings.pop("total", None)
    rows = [(STAGE_NAMES[key], timings.pop(key)) for key in STAGE_NAMES if key in timings]
    rows += list(timings.items())
    if total is not None:
        rows.append((STAGE_NAMES["total"], total))
    return [(name, float(ms)) for name, ms in rows]


def _card_mismatch(prediction: Prediction, card: Card | None) -> bool:
    """True when this result came from another model than the one installed now."""
    return bool(card and prediction.model_version and prediction.model_version != card.version)
