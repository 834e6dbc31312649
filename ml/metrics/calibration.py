"""Temperature scaling and calibration measures (ECE, Brier, reliability bins).

One scalar T divides the logits: it cannot change which class wins, only how confident
the probabilities are, so it is safe to fit on the validation set after training.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from scipy.optimize import minimize_scalar

from ml.card import calibrated_probabilities


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true labels under softmax(logits / T)."""
    z = np.asarray(logits, np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """T > 0 minimising validation NLL (1-D search over log T in [1/20, 20])."""
    result = minimize_scalar(
        lambda log_t: nll(logits, labels, float(np.exp(log_t))),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(np.exp(result.x))


class ReliabilityBin(TypedDict):
    low: float
    high: float
    count: int
    confidence: float | None  # None in an empty bin
    accuracy: float | None


def reliability_bins(
    probs: np.ndarray, labels: np.ndarray, n_bins: int = 15
) -> list[ReliabilityBin]:
    """Per equal-width confidence bin: count, mean confidence, accuracy (top-label)."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # bin i holds (edges[i], edges[i+1]]; confidence 0 cannot occur with >= 2 classes
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    bins: list[ReliabilityBin] = []
    for i in range(n_bins):
        mask = which == i
        n = int(mask.sum())
        bins.append(
            {
                "low": float(edges[i]),
                "high": float(edges[i + 1]),
                "count": n,
                "confidence": float(conf[mask].mean()) if n else None,
                "accuracy": float(correct[mask].mean()) if n else None,
            }
        )
    return bins


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE: count-weighted mean |accuracy - confidence| over confidence bins (top label)."""
    total = len(labels)
    return float(
        sum(
            b["count"] / total * abs(b["accuracy"] - b["confidence"])
            for b in reliability_bins(probs, labels, n_bins)
            if b["accuracy"] is not None and b["confidence"] is not None  # count > 0
        )
    )


def brier_score(probs: np.ndarray, labels: np.ndarray) -> float:
    """Multi-class Brier: mean over images of sum_k (p_k - [y = k])^2 (range 0-2)."""
    onehot = np.eye(probs.shape[1])[labels]
    return float(((probs - onehot) ** 2).sum(axis=1).mean())


def calibration_summary(
    logits: np.ndarray, labels: np.ndarray, temperature: float
) -> dict[str, float]:
    before = calibrated_probabilities(logits, 1.0)
    after = calibrated_probabilities(logits, temperature)
    return {
        "temperature": temperature,
        "ece_before": expected_calibration_error(before, labels),
        "ece_after": expected_calibration_error(after, labels),
        "brier_before": brier_score(before, labels),
        "brier_after": brier_score(after, labels),
        "nll_before": nll(logits, labels, 1.0),
        "nll_after": nll(logits, labels, temperature),
    }
