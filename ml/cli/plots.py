"""Report figures (matplotlib, Agg backend, written as PNG files)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ml.metrics.classification import roc_curve  # noqa: E402


def confusion_png(cm: np.ndarray, class_names: list[str], title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(4.6, 4))
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            color = "white" if norm[i, j] > 0.5 else "black"
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color=color)
    ax.set_xticks(range(len(class_names)), class_names, rotation=30)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def roc_png(
    y: np.ndarray, probs: np.ndarray, class_names: list[str], normal: int, title: str, path: Path
) -> None:
    fig, ax = plt.subplots(figsize=(4.6, 4))
    for k, name in enumerate(class_names):
        fpr, tpr = roc_curve(y == k, probs[:, k])
        ax.plot(fpr, tpr, label=name, lw=1.2)
    fpr, tpr = roc_curve(y != normal, 1 - probs[:, normal])
    ax.plot(fpr, tpr, "k--", label="tumour vs normal", lw=1.2)
    ax.plot([0, 1], [0, 1], color="0.8", lw=0.8)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    _save(fig, path)


def reliability_png(
    bins_before: list[dict[str, Any]], bins_after: list[dict[str, Any]], title: str, path: Path
) -> None:
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, label="perfect")
    for bins, label, marker in (
        (bins_before, "T = 1", "o"),
        (bins_after, "temperature-scaled", "s"),
    ):
        pts = [(b["confidence"], b["accuracy"]) for b in bins if b["count"]]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker=marker, lw=1, label=label)
    ax.set_xlabel("confidence (top class)")
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    _save(fig, path)


def curves_png(log_csv: Path, path: Path) -> None:
    """Loss and accuracy per epoch from the CSV log written during training."""
    with Path(log_csv).open() as f:
        rows = list(csv.DictReader(f))
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for key, ax in (("loss", a1), ("accuracy", a2)):
        ax.plot(epochs, [float(r[key]) for r in rows], label=f"train {key}")
        ax.plot(epochs, [float(r[f"val_{key}"]) for r in rows], label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    a1.set_title("loss (label-smoothed CE)", fontsize=10)
    a2.set_title("accuracy", fontsize=10)
    _save(fig, path)


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
