"""The model card page for clinicians, from the installed card's JSON.

Intended use and known limits first (the text of ml/MODEL_CARD.md, from ml.card), class names
instead of the card's class numbers, confusion matrices labelled with them (row = true
class, column = predicted), and the rest of the card (training, calibration, ...) folded at
the end. No server path reaches the page: keys that hold paths or commands are left out,
and path-like words in the remaining text are cut out (`scrub`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from ml.card import intended_use, known_limits
from predictions.models import Label

# Card keys shown in the summary near the top; `metrics` has its own section.
SUMMARY_KEYS = (
    "version",
    "architecture",
    "parameters",
    "input_size",
    "channels",
    "class_names",
    "normal_class",
    "temperature",
    "risk_thresholds",
    "trained_at",
    "sha256",
)
SHOWN_ELSEWHERE = {"metrics", "intended_use", "transfer_estimate", "operating_point"}
# Paths, commands, file names and per-epoch curves: nothing a clinician reads, and paths of
# the machine the model was trained on.
HIDDEN_KEYS = {
    "file",
    "last_conv_layer",
    "history",
    "command",
    "commands",
    "directory",
    "audit",
    "audit_json",
    "lists",
    "out",
    "cache_dir",
    "data_dir",
    "path",
    "next_steps",
}

_PATH = re.compile(
    r"(?<![\w.])(?:~|\.{1,2})?/[^\s,;()'\"]+"  # /work/..., ../shared/..., ./x, ~/x
    r"|(?<![\w/.-])(?:[\w.-]+/)+[\w.-]+\.(?:keras|h5|npz|json|csv|md|py|txt|png)\b"  # ml/x.md
    r"|\b[\w.-]+\.(?:keras|h5|npz|json|csv|md|py|txt)\b"  # brainscan.keras, splits.json
    r"|\bvar/[^\s,;()'\"]*",
)
_MARKS = re.compile(r"\*\*(.+?)\*\*|\*(.+?)\*", re.DOTALL)

SPLIT_TITLES = {
    "test_leak_free": "Kaggle official test split, leak-free subset",
    "test": "Kaggle official test split",
    "validation": "Validation (held out from training, used to calibrate)",
}
SPLIT_ORDER = ("test_leak_free", "test", "validation")


def scrub(text: str) -> str:
    """`text` without path-like words (and the empty brackets they leave)."""
    cleaned = _PATH.sub("", text)
    if cleaned == text:
        return text
    cleaned = re.sub(r"\(\s*\)|\[\s*\]", "", cleaned)
    return re.sub(r"\s{2,}", " ", cleaned).strip(" ,;:")


def rich(text: str) -> SafeString:
    """The card's text with its **bold** and *italic* marks as HTML; everything else escaped."""

    def mark(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return f"<strong>{match.group(1)}</strong>"
        return f"<em>{match.group(2)}</em>"

    return mark_safe(_MARKS.sub(mark, str(escape(scrub(text)))))  # noqa: S308 - escaped first


def class_labels(data: dict[str, Any]) -> list[str]:
    """The card's class names as a clinician reads them ("notumor" -> "No tumour")."""
    names = data.get("class_names")
    if not isinstance(names, list):
        return []
    known = dict(Label.choices)
    return [str(known.get(str(n), str(n).replace("_", " ").capitalize())) for n in names]


def normal_label(data: dict[str, Any]) -> str:
    normal = data.get("normal_class")
    return str(dict(Label.choices).get(str(normal), normal or ""))


@dataclass(frozen=True)
class Matrix:
    """A confusion matrix as a table: row = true class, column = predicted class."""

    labels: list[str]
    rows: list[tuple[str, list[str]]]


@dataclass(frozen=True)
class ClassRow:
    name: str
    precision: str
    recall: str
    f1: str
    auc: str


@dataclass(frozen=True)
class SplitResult:
    key: str
    title: str
    images: str
    overall: list[tuple[str, str]]
    classes: list[ClassRow]
    matrix: Matrix | None


def matrix(value: object, labels: list[str]) -> Matrix | None:
    """A square matrix of numbers, labelled with `labels` when they fit ("Class 1", ... if not)."""
    if not isinstance(value, list) or not value or not all(isinstance(r, list) for r in value):
        return None
    size = len(value)
    if any(len(row) != size for row in value):
        return None
    names = labels if len(labels) == size else [f"Class {i + 1}" for i in range(size)]
    return Matrix(names, [(names[i], [_text(c) for c in row]) for i, row in enumerate(value)])


def performance(data: dict[str, Any]) -> list[SplitResult]:
    """The card's metrics per data split, leak-free test first, with class names."""
    metrics = data.get("metrics")
    if not isinstance(metrics, dict):
        return []
    labels = class_labels(data)
    keys = [k for k in SPLIT_ORDER if k in metrics]
    keys += [k for k in metrics if k not in keys and k != "sources"]
    results = []
    for key in keys:
        split = metrics[key]
        if not isinstance(split, dict):
            continue
        overall = [
            (title, _rate(split.get(name)))
            for name, title in (
                ("accuracy", "Accuracy"),
                ("macro_f1", "Macro F1"),
                ("tumour_sensitivity", "Tumour sensitivity (any tumour class called a tumour)"),
                ("tumour_specificity", "Tumour specificity (no tumour called no tumour)"),
            )
            if split.get(name) is not None
        ]
        if split.get("tumour_auc") is not None:
            overall.append(("Tumour AUC", _decimal(split["tumour_auc"])))
        classes = [
            ClassRow(
                name=label,
                precision=_rate(split.get(f"precision_{i}")),
                recall=_rate(split.get(f"recall_{i}")),
                f1=_rate(split.get(f"f1_{i}")),
                auc=_decimal(split.get(f"auc_{i}")),
            )
            for i, label in enumerate(labels)
            if any(f"{m}_{i}" in split for m in ("precision", "recall", "f1", "auc"))
        ]
        n = split.get("n")
        results.append(
            SplitResult(
                key=key,
                title=SPLIT_TITLES.get(key, _title(key)),
                images=str(n) if isinstance(n, int) else "",
                overall=overall,
                classes=classes,
                matrix=matrix(split.get("confusion_matrix"), labels),
            )
        )
    return results


def limits(data: dict[str, Any]) -> tuple[list[SafeString], list[SafeString]]:
    """Intended use (paragraphs) and known limits (list items) of the installed card."""
    return [rich(p) for p in intended_use(data)], [rich(item) for item in known_limits(data)]


def details(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The card's other sections as (title, node) pairs for the recursive template.

    Plain values (file size, risk rule, ...) share one "Other facts" section at the top;
    every nested section (data, splits, training, calibration, ...) gets its own.
    """
    labels = class_labels(data)
    rest = [
        (_title(key), node)
        for key, value in data.items()
        if key not in SUMMARY_KEYS and key not in HIDDEN_KEYS and key not in SHOWN_ELSEWHERE
        for node in [_node(value, labels)]
        if node is not None
    ]
    facts = [(title, node) for title, node in rest if node["kind"] == "text"]
    sections = [(title, node) for title, node in rest if node["kind"] != "text"]
    return ([("Other facts", {"kind": "dict", "items": facts})] if facts else []) + sections


def _node(value: Any, labels: list[str]) -> dict[str, Any] | None:
    """A JSON value as a node the template can draw without knowing Python types; None for a
    value that was only a path."""
    if isinstance(value, dict):
        items = [
            (_title(k, labels), node)
            for k, v in value.items()
            if k not in HIDDEN_KEYS
            for node in [_node(v, labels)]
            if node is not None
        ]
        return {"kind": "dict", "items": items} if items else None
    table = matrix(value, labels)
    if table is not None:
        return {"kind": "matrix", "matrix": table}
    text = _text(value)
    cleaned = scrub(text)
    if text and not cleaned:
        return None
    return {"kind": "text", "text": cleaned}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return ", ".join(f"{_title(k)}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    return "" if value is None else str(value)


def _title(key: str, labels: list[str] | None = None) -> str:
    """A card key as a heading; a class number at its end as the class name ("auc_2" -> "Auc: No
    tumour")."""
    match = re.fullmatch(r"(.+)_(\d+)", str(key))
    if match and labels and int(match.group(2)) < len(labels):
        return f"{_title(match.group(1))}: {labels[int(match.group(2))]}"
    return str(key).replace("_", " ").capitalize()


def _rate(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–"
    return f"{value * 100:.1f}\N{NO-BREAK SPACE}%"


def _decimal(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–"
    return f"{value:.3f}"
