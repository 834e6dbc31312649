"""The installed model's card, read for the web pages.

The card (model_card.json beside the model file, written by the training command) says how
the risk thresholds were chosen. The web process reads it as plain JSON instead of going
through ml.serving.engine, so showing a result page never imports TensorFlow. A missing or broken
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


@dataclass(frozen=True)
class SourceRow:
    """One line of the card page's results-by-source table, as text."""

    source: str
    slices: str
    gate_pass: str
    tumour_found: str
    normals_low: str


# External sources first: a clinician's scans come from another hospital.
SOURCE_ORDER = ("brats", "ixi_test", "test_leak_free", "test")


def results_by_source(card: Card | None) -> tuple[str, list[SourceRow]]:
    """The transfer estimate's sentence and one row per source (model alone, 95 % intervals
    over people), the left-out run's row first; ("", []) for a card without them."""
    if card is None:
        return "", []
    transfer = card.data.get("transfer_estimate")
    transfer = transfer if isinstance(transfer, dict) else {}
    rows = []
    left = (transfer.get("sources") or {}).get(transfer.get("left_out_row"))
    if isinstance(left, dict):
        rows.append(_source_row(left, suffix=" — model trained without it"))
    sources = (card.data.get("metrics") or {}).get("sources") or {}
    rows += [_source_row(sources[n]) for n in SOURCE_ORDER if isinstance(sources.get(n), dict)]
    summary = transfer.get("summary") or transfer.get("note") or ""
    return str(summary), rows


def _source_row(s: dict[str, Any], suffix: str = "") -> SourceRow:
    alone = s.get("model_alone") or {}
    return SourceRow(
        source=f"{s.get('description', '?')}{suffix}",
        slices=f"{s.get('slices', '?')} / {s.get('people', '?')}",
        gate_pass=_interval(s.get("gate_pass")),
        tumour_found=_interval(alone.get("tumour_sensitivity_medium")),
        normals_low=_interval(alone.get("specificity_medium")),
    )


def _interval(entry: object) -> str:
    """'31.3 % (20.5–44.8)', or '–' where the source has no such cases."""
    if not isinstance(entry, dict) or _number(entry.get("value")) is None:
        return "–"
    text = f"{float(entry['value']) * 100:.1f}\N{NO-BREAK SPACE}%"
    ci = entry.get("ci95")
    if isinstance(ci, list) and len(ci) == 2 and all(_number(v) is not None for v in ci):
        text += f" ({float(ci[0]) * 100:.1f}–{float(ci[1]) * 100:.1f})"
    return text


def percent_text(value: float | None) -> str:
    """A threshold or rate from the card: 0.05 -> "5 %", 0.995 -> "99.5 %"."""
    return _percent(value)


def _percent(value: float | None) -> str:
    if value is None:
        return "?"
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}\N{NO-BREAK SPACE}%"
