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
