"""The installed model's card, read for the web pages.

The card (model_card.json beside the model file, written by the training command) says how
the risk thresholds were chosen. The web process reads it as plain JSON instead of going
through ml.inference, so showing a result page never imports TensorFlow. A missing or broken
card is not an error here: the pages then say that no model is installed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)
CARD_FILE = "model_card.json"


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    sensitivity: float | None = None
    specificity: float | None = None


@dataclass(frozen=True)
class Card:
    version: str
    data: dict[str, Any] = field(repr=False)
    medium: float | None = None  # tumour probability from which risk is at least medium
    high: float | None = None  # ... from which risk is high
    at_medium: OperatingPoint | None = None
    at_high: OperatingPoint | None = None

    @property
    def has_thresholds(self) -> bool:
        return self.medium is not None and self.high is not None


def card_path() -> Path:
    return Path(settings.MODEL_PATH).parent / CARD_FILE


def load_installed_card() -> Card | None:
    """The card of the installed model, or None when there is none (or it cannot be read).

    Read on every call: the file is small, and a newly installed model shows up without a
    restart of the web process.
    """
    path = card_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("model card at %s is unreadable: %s", path, type(exc).__name__)
        return None
    if not isinstance(data, dict) or not data.get("version"):
        logger.warning("model card at %s has no version", path)
        return None
    return _card_from(data)


def _card_from(data: dict[str, Any]) -> Card:
    thresholds = data.get("risk_thresholds") or {}
    point = data.get("operating_point") or {}
    return Card(
        version=str(data["version"]),
        data=data,
        medium=_number(thresholds.get("medium")),
        high=_number(thresholds.get("high")),
        at_medium=_operating_point(point.get("at_medium")),
        at_high=_operating_point(point.get("at_high")),
    )


def _operating_point(raw: object) -> OperatingPoint | None:
    if not isinstance(raw, dict) or _number(raw.get("threshold")) is None:
        return None
    return OperatingPoint(
        threshold=float(raw["threshold"]),
        sensitivity=_number(raw.get("sensitivity")),
        specificity=_number(raw.get("specificity")),
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def operating_point_sentence(card: Card | None) -> str:
    """One sentence a clinician can read: where the risk levels start and why."""
    if card is None or not card.has_thresholds:
        return (
            "No model card is installed, so the thresholds behind the risk levels cannot be shown."
        )
    sentence = (
        f"Risk is low below a tumour probability of {_percent(card.medium)}, medium from "
        f"{_percent(card.medium)} and high from {_percent(card.high)}; the thresholds were "
        "chosen on validation data to miss as few tumours as possible"
    )
    point = card.at_medium
    if point is not None and point.sensitivity is not None and point.specificity is not None:
        sentence += (
            f" (there, medium or high flagged {_percent(point.sensitivity)} of tumours, "
            f"and {_percent(point.specificity)} of tumour-free slices were rated low)"
        )
    return sentence + "."


def _percent(value: float | None) -> str:
    if value is None:
        return "?"
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}\N{NO-BREAK SPACE}%"
