"""Metrics of one source (one hospital, one data set), with intervals over PEOPLE.

Slices of one person are not independent: 20 slices of one healthy brain are one piece of
evidence that the model says "no tumour" to that brain, not twenty. The intervals here
resample people (or, where a data set has no person ids, its near-duplicate groups), so a
source with 8 patients gets the wide interval it deserves.

A slice the input gate refused was not analysed: it is counted in the pass rate and left out
of the accuracy of what was analysed, never silently dropped. "model_alone" gives the same
metrics on every slice as if the gate had let it through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ml.metrics.calibration import expected_calibration_error


def cluster_bootstrap_ci(
    statistic: Callable[[np.ndarray], Mapping[str, float | None]],
    clusters: ArrayLike,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile interval of every key `statistic(indices)` returns, resampling whole
    clusters (people) with replacement; a resample takes every slice of each drawn person."""
    labels = np.asarray(clusters)
    _, inverse = np.unique(labels, return_inverse=True)
    members = [np.flatnonzero(inverse == c) for c in range(inverse.max() + 1)]
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(n_resamples):
        picked = rng.integers(0, len(members), len(members))
        idx = np.concatenate([members[c] for c in picked])
        for key, value in statistic(idx).items():
            draws.setdefault(key, []).append(np.nan if value is None else value)
    alpha = (1 - level) / 2
    return {
        key: (float(np.nanquantile(v, alpha)), float(np.nanquantile(v, 1 - alpha)))
        for key, v in draws.items()
        if not np.all(np.isnan(v))
    }


def _share(flags: np.ndarray) -> float | None:
    return float(flags.mean()) if len(flags) else None


def point(
    y: np.ndarray, probs: np.ndarray, normal: int, thresholds: dict[str, float]
) -> dict[str, float | None]:
    """Accuracy, tumour sensitivity and specificity at both risk thresholds, ECE, and the
    share of tumour slices called by their own class; None where a source lacks the class."""
    if len(y) == 0:
        return dict.fromkeys(METRICS)
    tumour_p = 1.0 - probs[:, normal]
    is_tumour = y != normal
    called = probs.argmax(1)
    return {
        "accuracy": _share(called == y),
        "tumour_sensitivity_medium": _share(tumour_p[is_tumour] >= thresholds["medium"]),
        "tumour_sensitivity_high": _share(tumour_p[is_tumour] >= thresholds["high"]),
        "specificity_medium": _share(tumour_p[~is_tumour] < thresholds["medium"]),
        "specificity_high": _share(tumour_p[~is_tumour] < thresholds["high"]),
        "called_no_tumour": _share(called[~is_tumour] == normal),
        "tumour_called_tumour": _share(called[is_tumour] != normal),
        "ece": expected_calibration_error(probs, y),
    }


METRICS = (
    "accuracy",
    "tumour_sensitivity_medium",
    "tumour_sensitivity_high",
    "specificity_medium",
    "specificity_high",
    "called_no_tumour",
    "tumour_called_tumour",
    "ece",
)


def source_metrics(
    y: np.ndarray,
    probs: np.ndarray,
    accepted: np.ndarray,
    people: ArrayLike,
    thresholds: dict[str, float],
    normal: int,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Everything reported for one source: counts, gate pass rate, metrics of what was
    analysed and of the model alone, each {"value", "ci95"} with people resampled."""
    y, probs, accepted = np.asarray(y), np.asarray(probs), np.asarray(accepted, dtype=bool)
    people = np.asarray(people)

    def statistic(idx: np.ndarray) -> dict[str, float | None]:
        analysed = idx[accepted[idx]]
        out: dict[str, float | None] = {"gate_pass": float(accepted[idx].mean())}
        out |= {
            f"analysed.{k}": v
            for k, v in point(y[analysed], probs[analysed], normal, thresholds).items()
        }
        out |= {f"alone.{k}": v for k, v in point(y[idx], probs[idx], normal, thresholds).items()}
        return out

    values = statistic(np.arange(len(y)))
    ci = cluster_bootstrap_ci(statistic, people, n_resamples=n_resamples, seed=seed)

    def entry(key: str) -> dict[str, Any]:
        value = values[key]
        interval = ci.get(key) if value is not None else None
        return {"value": value, "ci95": list(interval) if interval else None}

    return {
        "slices": int(len(y)),
        "people": int(len(np.unique(people))),
        "analysed": int(accepted.sum()),
        "gate_pass": entry("gate_pass"),
        "analysed_metrics": {k: entry(f"analysed.{k}") for k in METRICS},
        "model_alone": {k: entry(f"alone.{k}") for k in METRICS},
    }
