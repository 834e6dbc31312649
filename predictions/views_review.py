"""Pages for reviewers and admins: how the model in use does, and CSV exports for audit."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedRequest
from predictions.export import csv_response, neutralise
from predictions.models import Label, Prediction, Scan
from predictions.reviews import CLASSES, models_in_use, reviewed

View = Callable[..., HttpResponseBase]
REVIEWED_HEADER = [
    "scan_id",
    "uploaded_at",
    "model_version",
    "ai_label",
    "confidence",
    "tumour_probability",
    "risk",
    "verdict",
    "reviewer_label",
    "reviewed_by",
    "reviewed_at",
    "note",
]


def reviewer_required(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if not request.user.is_reviewer:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


@reviewer_required
@require_GET
def model_in_use(request: AuthenticatedRequest) -> HttpResponse:
    context = {
        "models": models_in_use(),
        "classes": [(name, Label(name).label) for name in CLASSES],
    }
    return render(request, "predictions/model_in_use.html", context)


@reviewer_required
@require_GET
def reviewed_csv(request: AuthenticatedRequest) -> StreamingHttpResponse:
    """Every reviewed case: the ground truth the model in use is measured against."""
    rows = reviewed().select_related("scan", "reviewed_by").order_by("reviewed_at", "pk")
    response = StreamingHttpResponse(_reviewed_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="brainscan-reviewed-{_stamp()}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def all_history_csv(request: AuthenticatedRequest) -> StreamingHttpResponse:
    """Every clinician's scans, for administrators: the clinicians' export format, unfiltered."""
    if not request.user.is_superuser:
        raise PermissionDenied
    return csv_response(Scan.objects.all(), f"brainscan-all-history-{_stamp()}.csv")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _reviewed_lines(predictions: QuerySet[Prediction]) -> Iterator[bytes]:
    writer = csv.writer(_Echo())
    yield writer.writerow(REVIEWED_HEADER).encode("utf-8")
    for prediction in predictions.iterator(chunk_size=500):
        yield writer.writerow([neutralise(cell) for cell in _reviewed_row(prediction)]).encode()


def _reviewed_row(prediction: Prediction) -> list[str]:
    return [
        str(prediction.scan_id),
        _iso(prediction.scan.uploaded_at),
        prediction.model_version,
        prediction.label,
        _number(prediction.confidence),
        _number(prediction.tumour_probability),
        prediction.risk,
        prediction.review_verdict,
        prediction.true_label,
        prediction.reviewed_by.email if prediction.reviewed_by else "",
        _iso(prediction.reviewed_at),
        prediction.review_note,
    ]


def _iso(moment: datetime | None) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


def _number(value: float | None) -> str:
    return f"{value:.6f}" if value is not None else ""


def _stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")
