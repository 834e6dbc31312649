"""The CSV files: a clinician's filtered history, and for audit every reviewed case (reviewers)
and every clinician's history (administrators). predictions.export writes them all."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedRequest
from predictions import services
from predictions.export import csv_response, history_csv, reviewed_csv_lines, stamp
from predictions.history import HistoryFilterForm
from predictions.models import Scan
from predictions.reviews import reviewed
from predictions.views.access import clinician_required, reviewer_required


@clinician_required
@require_GET
def export_csv(request: AuthenticatedRequest) -> HttpResponseBase:
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
    return history_csv(scans, f"brainscan-history-{stamp()}.csv")


@reviewer_required
@require_GET
def reviewed_csv(request: AuthenticatedRequest) -> HttpResponseBase:
    """Every reviewed case: the ground truth the model in use is measured against."""
    rows = reviewed().select_related("scan", "reviewed_by").order_by("reviewed_at", "pk")
    return csv_response(reviewed_csv_lines(rows), f"brainscan-reviewed-{stamp()}.csv")


@login_required
@require_GET
def all_history_csv(request: AuthenticatedRequest) -> HttpResponseBase:
    """Every clinician's scans, for administrators: the clinicians' export format, unfiltered."""
    if not request.user.is_superuser:
        raise PermissionDenied
    return history_csv(Scan.objects.all(), f"brainscan-all-history-{stamp()}.csv")
