"""Deleting a scan from the result page: a confirmation page, then a POST that deletes."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.http import AuthenticatedRequest
from predictions import services
from predictions.views import clinician_required


@clinician_required
@require_http_methods(["GET", "POST"])
def delete_scan(request: AuthenticatedRequest, scan_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes the scan, its result and its images.

    A reviewer may open any scan but deletes none: that is the uploading clinician's call.
    """
    scan = services.get_scan_for_user(request.user, scan_id)
    if scan.owner_id != request.user.pk:
        raise PermissionDenied("Only the clinician who uploaded a scan can delete it.")
    if request.method == "POST":
        services.delete_scan(request.user, scan)
        messages.success(
            request, f"Scan {scan_id} was deleted, with its slice, heatmap and result."
        )
        return redirect("predictions:dashboard")
    return render(request, "predictions/confirm_delete.html", {"scan": scan})
