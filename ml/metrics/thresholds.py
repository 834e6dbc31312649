"""Risk thresholds on the tumour probability, chosen on validation data.

medium: the highest threshold that still flags >= TARGET_SENSITIVITY of validation tumours
(capped at MEDIUM_CAP, so "low" always means the model is fairly sure there is no tumour);
high: 0.5 ("tumour more likely than not"), raised if needed until validation specificity
reaches TARGET_SPECIFICITY.
"""

from __future__ import annotations

import math

import numpy as np

from ml.metrics.classification import sensitivity_specificity

TARGET_SENSITIVITY = 0.995
TARGET_SPECIFICITY = 0.99
MEDIUM_CAP = 0.2
HIGH_FLOOR = 0.5


def choose_thresholds(tumour_probability: np.ndarray, is_tumour: np.ndarray) -> dict[str, float]:
    tp = np.asarray(tumour_probability, np.float64)
    is_tumour = np.asarray(is_tumour, bool)
    scores = np.sort(tp[is_tumour])
    # at most floor((1 - target) * n) tumours may fall below the threshold
    allowed_misses = int(np.floor((1 - TARGET_SENSITIVITY) * len(scores) + 1e-9))
    medium = min(float(scores[allowed_misses]), MEDIUM_CAP) if len(scores) else MEDIUM_CAP
    high = HIGH_FLOOR
    normals = np.sort(tp[~is_tumour])
    if len(normals):
        # smallest threshold above which at most (1 - target) of normals lie
        k = int(np.ceil(TARGET_SPECIFICITY * len(normals))) - 1
        high = max(HIGH_FLOOR, float(np.nextafter(normals[k], 1.0)))
    high = min(high, 0.99)
    # round outward so the rounded thresholds keep the guarantees measured above
    medium = math.floor(medium * 1e6) / 1e6
    return {"medium": medium, "high": max(math.ceil(high * 1e6) / 1e6, medium)}


def describe(
    tumour_probability: np.ndarray, is_tumour: np.ndarray, thresholds: dict[str, float]
) -> dict[str, dict[str, float]]:
    """Sensitivity/specificity of 'not low' (>= medium) and of 'high' (>= high)."""
    out = {}
    for level in ("medium", "high"):
        sens, spec = sensitivity_specificity(is_tumour, tumour_probability >= thresholds[level])
        out[f"at_{level}"] = {
            "threshold": thresholds[level],
            "sensitivity": sens,
            "specificity": spec,
        }
    return out
