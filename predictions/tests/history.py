"""Scans with finished predictions in any state, for the history, export and result tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.models import User
from predictions.models import Prediction, Scan
from predictions.tests.factories import PredictionFactory

PROBABILITIES = {
    "glioma": {"glioma": 0.91, "meningioma": 0.05, "notumor": 0.02, "pituitary": 0.02},
    "meningioma": {"glioma": 0.1, "meningioma": 0.7, "notumor": 0.15, "pituitary": 0.05},
    "notumor": {"glioma": 0.01, "meningioma": 0.02, "notumor": 0.96, "pituitary": 0.01},
    "pituitary": {"glioma": 0.02, "meningioma": 0.03, "notumor": 0.05, "pituitary": 0.9},
}
RISK = {"glioma": "high", "meningioma": "medium", "notumor": "low", "pituitary": "high"}


def make_scan(
    owner: User,
    *,
    label: str = "glioma",
    status: str = Prediction.Status.DONE,
    uploaded_at: datetime | None = None,
    case: str = "",
    **prediction: Any,
) -> Scan:
    """A scan of `owner` whose prediction finished with `label` (or was rejected/failed)."""
    fields: dict[str, Any] = {"status": status, "finished_at": timezone.now()}
    if status == Prediction.Status.DONE:
        probabilities = PROBABILITIES[label]
        fields.update(
            label=label,
            probabilities=probabilities,
            confidence=probabilities[label],
            tumour_probability=round(1 - probabilities["notumor"], 6),
            risk=RISK[label],
            gate_accepted=True,
            gate_score=0.4,
            model_version="brainscan-test-1",
            model_sha256="ab" * 32,
            timings={"decode": 3.0, "model": 40.0, "total": 55.5},
        )
    elif status == Prediction.Status.REJECTED:
        fields.update(
            gate_accepted=False,
            gate_score=3.2,
            error="This does not look like a brain MRI slice.",
            model_version="brainscan-test-1",
        )
    elif status == Prediction.Status.FAILED:
        fields.update(error="The image could not be analysed.")
    fields.update(prediction)
    scan_fields: dict[str, Any] = {"scan__owner": owner, "scan__case_reference": case}
    if uploaded_at is not None:
        scan_fields["scan__uploaded_at"] = uploaded_at
    return PredictionFactory.create(**scan_fields, **fields).scan
