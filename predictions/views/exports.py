"""The CSV files: a clinician's filtered history, and for audit every reviewed case (reviewers)
and every clinician's history (administrators)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedRequest
from predictions import services
from predictions.export import csv_response, neutralise
from predictions.filters import HistoryFilterForm
from predictions.models import Prediction, Scan
from predictions.reviews import reviewed
from predictions.views.access import clinician_required, reviewer_required

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


@clinician_required
@require_GET
def export_csv(request: AuthenticatedRequest) -> HttpResponse | StreamingHttpResponse:
    """Exactly the rows the dashboard lists for the same filters, as a streamed CSV file.

    An invalid filter answers 400: exporting every row instead would not be what was asked.
    """
    form = HistoryFilterForm(request.GET)
    if not form.is_valid():  # the history shows the same error beside the field
        return HttpResponse(
            f"Bad filter: {form.first_error()}\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    scans = services.scans_for_user(request.user).filter(owner=request.user)
    scans = form.apply(scans)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return csv_response(scans, f"brainscan-history-{stamp}.csv")


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
