"""The model card: the JSON that travels with the .keras file and says how to use it.

The one reader of model_card.json in ml/: `load_card` (strict: the keys serving needs) and
`read_card` / `write_card` (the whole JSON, for the steps that add results to it).

Inference reads temperature, thresholds, input size and class names from here, never from
code constants, so a retrained model cannot silently run with another model's settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

RISK_RULE = (
    "tumour_probability = 1 - P(notumor) after temperature scaling; "
    "risk = 'low' if tumour_probability < medium, 'medium' if < high, else 'high'"
)


@dataclass
class ModelCard:
    version: str
    file: str
    sha256: str
    architecture: str
    input_size: int
    channels: int
    class_names: list[str]
    normal_class: str
    temperature: float
    risk_thresholds: dict[str, float]
    last_conv_layer: str
    directory: Path = Path()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_path(self) -> Path:
        return self.directory / self.file

    @property
    def normal_index(self) -> int:
        return self.class_names.index(self.normal_class)

    @property
    def preprocessing_method(self) -> str:
        """The ml.image.preprocess method the model was trained with (cards before 2.0: crop-v1)."""
        return str(self.extra.get("preprocessing_method", "crop-v1"))


_REQUIRED = (
    "version",
    "file",
    "sha256",
    "architecture",
    "input_size",
    "channels",
    "class_names",
    "normal_class",
    "temperature",
    "risk_thresholds",
    "last_conv_layer",
)


def read_card(path: str | Path) -> dict[str, Any]:
    """The whole card as written (every key): for the steps that add to it and rewrite it."""
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


def write_card(path: str | Path, card: dict[str, Any]) -> None:
    """Write a card as every step writes it: indented JSON, one trailing newline."""
    Path(path).write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")


def load_card(path: str | Path) -> ModelCard:
    """Read model_card.json; raise ValueError naming the first missing key."""
    path = Path(path)
    data = read_card(path)
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ValueError(f"model card lacks {missing[0]!r}")
    known = {key: data[key] for key in _REQUIRED}
    known["input_size"] = int(known["input_size"])
    known["temperature"] = float(known["temperature"])
    known["risk_thresholds"] = {k: float(v) for k, v in known["risk_thresholds"].items()}
    extra = {k: v for k, v in data.items() if k not in known}
    return ModelCard(**known, directory=path.parent, extra=extra)


def risk_level(tumour_probability: float, thresholds: dict[str, float]) -> str:
    """'low' below thresholds['medium'], 'medium' below thresholds['high'], else 'high'."""
    if tumour_probability < thresholds["medium"]:
        return "low"
    if tumour_probability < thresholds["high"]:
        return "medium"
    return "high"


def calibrated_probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) along the last axis, numerically stable, float64."""
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    probabilities: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return probabilities


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# What the model is for and what its numbers do not show: one text for ml/MODEL_CARD.md
# (ml/cli/markdown.py) and the clinicians' card page (predictions). Paragraphs and list items
# carry line breaks as the Markdown file has them, and only **bold** and *italic* marks.
INTENDED_USE = (
    "Decision support for clinicians looking at **2-D brain MRI slices**: a four-way\n"
    "classification (glioma, meningioma, no tumour, pituitary tumour) with calibrated\n"
    "probabilities, a tumour probability and a low / medium / high risk level, shown next to a\n"
    "Grad-CAM heatmap. **It is not a diagnostic device and must not be used to diagnose,\n"
    "rule out or triage a patient without a radiologist.** It has not been validated on any\n"
    "clinical population; every result needs human review.",
    "Not for: 3-D volumes, other body parts, CT, paediatric imaging, post-operative scans, or\n"
    "any image the input gate rejects.",
)


def intended_use(card: dict[str, Any]) -> list[str]:
    """The card's own `intended_use` when it has one (a test model's), else INTENDED_USE."""
    own = card.get("intended_use")
    if isinstance(own, str) and own.strip():
        return [own.strip()]
    return list(INTENDED_USE)


def known_limits(card: dict[str, Any]) -> list[str]:
    """What the card's numbers do not show, one list item each."""
    row = _normal_row(card)
    shortcut = (
        "**Source shortcut**: every notumor image comes from other sources (SARTAJ / Br35H) than\n"
        'the tumour images (mostly figshare), so the model can tell "no tumour" partly from\n'
        "framing, contrast or sequence instead of anatomy. A perfect notumor score is not evidence\n"
        "of real-world specificity"
    )
    if row is not None:
        shortcut += f"; the leak-free subset has only {row} notumor images."
    else:
        shortcut += "."
    return [
        "**One public data set**, assembled from three sources, with no patient ids: no\n"
        "patient-level split is possible, and no external validation was done.",
        "**Leakage**: about three quarters of the official test images have a near-duplicate in\n"
        "Training, so the official figures are optimistic. The leak-free subset removes what a\n"
        "perceptual hash can detect, but neighbouring slices that differ more remain (see the\n"
        "contact sheet in the audit): treat it as leak-*reduced*.",
        shortcut,
        "**2-D slices only**, T1-contrast-heavy for tumours; no 3-D context, no sequence metadata.",
        "Four classes only: other lesions (metastases, stroke, MS, haemorrhage) will be forced\n"
        "into one of the four; the input gate and the risk level do not detect them.",
    ]


def _normal_row(card: dict[str, Any]) -> int | None:
    """How many leak-free test images are of the normal class, when the card says."""
    metrics = card.get("metrics")
    leak_free = metrics.get("test_leak_free") if isinstance(metrics, dict) else None
    matrix = leak_free.get("confusion_matrix") if isinstance(leak_free, dict) else None
    names = card.get("class_names")
    normal = card.get("normal_class")
    if not isinstance(matrix, list) or not isinstance(names, list) or normal not in names:
        return None
    row = matrix[names.index(normal)] if names.index(normal) < len(matrix) else None
    if not isinstance(row, list) or not all(isinstance(n, int) for n in row):
        return None
    return sum(row)
