"""What the result page shows beyond the stored row: bars, the operating point, the gate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from predictions.model_card import (
    Card,
    load_installed_card,
    operating_point_sentence,
    percent_text,
)
from predictions.models import Label, Prediction, Risk, Scan

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
        "gate_score": gate_score_text(prediction),
        "risk_sentence": risk_sentence(prediction, card),
        "reliability_note": reliability_note(prediction),
        "timings": timing_rows(prediction.timings),
        **viewer_facts(scan),
    }


def viewer_facts(scan: Scan) -> dict[str, Any]:
    """What the image viewer needs beyond the URLs: its accessible name, which class the
    heatmap explains, and whether it starts hidden. For a "no tumour" answer it does: its
    evidence for the most likely tumour class would otherwise look like a lesion."""
    prediction: Prediction = scan.prediction
    return {
        "slice_label": f"The uploaded slice, scan {scan.pk}, {scan.width} by {scan.height} pixels",
        "heatmap_class_name": class_name(prediction.heatmap_class),
        "heatmap_hidden": prediction.label == Label.NOTUMOR,
    }


def class_name(value: str) -> str:
    """ "glioma" -> "Glioma"; "" for no class, the value itself for an unknown one."""
    if not value:
        return ""
    return str(Label(value).label) if value in Label.values else value


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


def probability_text(value: object, digits: int = 1) -> str:
    """0.9134 -> "91.3 %"; never "100.0 %" or "0.0 %", which would read as certainty.

    A value that rounds to 100 shows as "> 99.9 %", one that rounds to 0 as "< 0.1 %" (for
    `digits` = 1); empty for a missing value.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    digits = int(digits)
    step = 10.0**-digits  # the smallest step shown, in percent
    percent = float(value) * 100
    nbsp = "\N{NO-BREAK SPACE}"
    if percent >= 100 - step / 2:
        return f">{nbsp}{100 - step:.{digits}f}{nbsp}%"
    if percent < step / 2:
        return f"<{nbsp}{step:.{digits}f}{nbsp}%"
    return f"{percent:.{digits}f}{nbsp}%"


def risk_sentence(prediction: Prediction, card: Card | None) -> str:
    """One plain sentence from the class probabilities to the risk level.

    "No tumour 79 %" beside "Medium risk" reads as a contradiction unless the page says that
    risk follows the tumour probability (the three tumour classes together) and where the
    installed model card puts the thresholds.
    """
    tumour = probability_text(prediction.tumour_probability)
    if not tumour or not prediction.risk:
        return ""
    risk = prediction.get_risk_display().lower()
    if prediction.label == Label.NOTUMOR:
        start = (
            f"No tumour is the most likely class ({probability_text(prediction.confidence)}), "
            f"but the three tumour classes together have {tumour}"
        )
    else:
        start = f"The three tumour classes together have {tumour}"
    if card is None or not card.has_thresholds:
        return f"{start}: {risk} risk (the model card with the thresholds is not installed)."
    medium, high = percent_text(card.medium), percent_text(card.high)
    if prediction.risk == Risk.LOW:
        rule = f"below the {medium} from which risk is medium"
    elif prediction.risk == Risk.MEDIUM:
        rule = f"at least {medium} and below {high}"
    else:
        rule = f"at least {high}"
    return f"{start}, which is {rule}: hence {risk} risk."


def gate_verdict(prediction: Prediction) -> str:
    """The input check in plain words; its score is for the technical details."""
    if prediction.gate_accepted is None:
        return "Not checked yet."
    if prediction.gate_accepted:
        return "Accepted as a brain MRI slice."
    return "Refused: not recognised as a brain MRI slice."


def gate_score_text(prediction: Prediction) -> str:
    """The input check's score: <= 1 for an accepted slice, > 1 for a refused one."""
    if prediction.gate_score is None:
        return ""
    return f"{prediction.gate_score:.2f} (a slice is accepted up to 1.00)"


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
