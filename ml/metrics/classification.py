"""Classification metrics with bootstrap confidence intervals, in plain numpy.

Tumour-vs-normal: every class except NORMAL_CLASS counts as "tumour"; the score is the
tumour probability 1 - P(normal). Sensitivity = tumour images flagged as tumour.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows = true class, columns = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def per_class_prf(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 per class; 0 where undefined (no predictions / no support)."""
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": actual}


def roc_auc(y_binary: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve = P(score_pos > score_neg) + 0.5 P(tie) (Mann-Whitney)."""
    y = np.asarray(y_binary).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(np.asarray(score, dtype=np.float64))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (vectorised; bootstrap calls it often)."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse]


def roc_curve(y_binary: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) at every distinct threshold."""
    y = np.asarray(y_binary).astype(bool)
    if y.all() or not y.any():  # undefined without both positives and negatives
        return np.array([]), np.array([])
    thresholds = np.unique(score)[::-1]
    tpr = [0.0] + [float((score[y] >= t).mean()) for t in thresholds]
    fpr = [0.0] + [float((score[~y] >= t).mean()) for t in thresholds]
    return np.array(fpr), np.array(tpr)


def sensitivity_specificity(is_tumour: np.ndarray, flagged: np.ndarray) -> tuple[float, float]:
    is_tumour, flagged = np.asarray(is_tumour, bool), np.asarray(flagged, bool)
    sens = float(flagged[is_tumour].mean()) if is_tumour.any() else float("nan")
    spec = float((~flagged[~is_tumour]).mean()) if (~is_tumour).any() else float("nan")
    return sens, spec


def point_metrics(
    y_true: np.ndarray, probs: np.ndarray, normal_index: int, threshold: float = 0.5
) -> dict[str, float]:
    """Scalar metrics for one set of predictions (the statistics that get bootstrapped)."""
    n_classes = probs.shape[1]
    y_pred = probs.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, n_classes)
    prf = per_class_prf(cm)
    tumour_score = 1.0 - probs[:, normal_index]
    is_tumour = y_true != normal_index
    sens, spec = sensitivity_specificity(is_tumour, tumour_score >= threshold)
    out = {
        "accuracy": float((y_pred == y_true).mean()),
        "macro_f1": float(prf["f1"].mean()),
        "tumour_sensitivity": sens,
        "tumour_specificity": spec,
        "tumour_auc": roc_auc(is_tumour, tumour_score),
    }
    for k in range(n_classes):
        out[f"auc_{k}"] = roc_auc(y_true == k, probs[:, k])
        for name in ("precision", "recall", "f1"):
            out[f"{name}_{k}"] = float(prf[name][k])
    return out


def bootstrap_ci(
    statistic: Callable[[np.ndarray], dict[str, float]],
    n: int,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap CI for every key `statistic(indices)` returns."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(n_resamples):
        for key, value in statistic(rng.integers(0, n, n)).items():
            samples.setdefault(key, []).append(value)
    alpha = (1 - level) / 2
    return {
        key: (float(np.nanquantile(v, alpha)), float(np.nanquantile(v, 1 - alpha)))
        for key, v in samples.items()
        if not np.all(np.isnan(v))
    }
