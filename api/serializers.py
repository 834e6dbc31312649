"""The JSON shape of one scan's result, shared by every endpoint (documented in api/schema.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from rest_framework.request import Request

from predictions.models import Prediction, Scan
from predictions.presentation import UNFAMILIAR_NOTE


def scan_result(scan: Scan, request: Request) -> dict[str, Any]:
    """`prediction` and `confidence` first: the shape the first brainscan prototype answered."""
    prediction: Prediction = scan.prediction
    done = prediction.status == Prediction.Status.DONE
    return {
        "prediction": prediction.get_label_display() if done else None,
        "confidence": prediction.confidence if done else None,
        "id": scan.pk,
        "status": prediction.status,
        "finished": prediction.is_finished,
        "label": prediction.label or None,
        "probabilities": prediction.probabilities or None,
        "tumour_probability": prediction.tumour_probability,
        "risk": prediction.risk or None,
        "gate": {"accepted": prediction.gate_accepted, "score": prediction.gate_score},
        "unfamiliar": prediction.unfamiliar if done else None,
        "reliability_note": UNFAMILIAR_NOTE if done and prediction.unfamiliar else None,
        "heatmap_class": (prediction.heatmap_class or None) if done else None,
        "error": prediction.error or None,
        "model_version": prediction.model_version or None,
        "case_reference": scan.case_reference,
        "sha256": scan.sha256,
        "uploaded_at": _iso(scan.uploaded_at),
        "finished_at": _iso(prediction.finished_at),
        "review": _review(prediction),
        "status_url": _url(request, "api:scan-detail", scan.pk),
        "result_url": _url(request, "predictions:detail", scan.pk),
        "image_url": _url(request, "api:scan-image", scan.pk) if scan.image else None,
        "heatmap_url": _url(request, "api:heatmap-image", scan.pk) if prediction.heatmap else None,
        "overlay_url": _url(request, "api:overlay-image", scan.pk) if prediction.overlay else None,
    }


def _review(prediction: Prediction) -> dict[str, Any] | None:
    if not prediction.review_verdict:
        return None
    return {
        "verdict": prediction.review_verdict,
        "label": prediction.true_label or None,
        "note": prediction.review_note,
        "reviewed_at": _iso(prediction.reviewed_at),
    }


def _url(request: Request, name: str, scan_id: int) -> str:
    return request.build_absolute_uri(reverse(name, args=[scan_id]))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
