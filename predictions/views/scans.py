"""The clinician's scans: the history (dashboard), uploads (the form and the page's one-file
requests), a batch, a result and its status, and deleting a scan."""

from __future__ import annotations

import dataclasses
import uuid

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import AuthenticatedRequest
from predictions import retention, services
from predictions.forms import ScanFileForm, ScanUploadForm
from predictions.history import SORTS, HistoryFilterForm, history_counts, history_page
from predictions.models import Prediction, Scan
from predictions.presentation import result_context
from predictions.reviews import reviewed_since_last_visit
from predictions.views.access import clinician_required, upload_refused_json, uploads_allowed

PAGE_SIZE = 25


@clinician_required
def dashboard(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    if user.is_reviewer and not request.GET and not Prediction.objects.filter(owner=user).exists():
        # A reviewer with no scans of their own works at the review desk, not an empty list.
        return redirect(reverse("admin:predictions_prediction_changelist") + "?reviewed=no")
    form = HistoryFilterForm(request.GET)
    predictions = form.apply_to_predictions(Prediction.objects.filter(owner=request.user))
    counts = history_counts(predictions)
    scans = services.scans_for_user(request.user).filter(owner=request.user)
    sort = request.GET.get("sort", "newest")
    sort = sort if sort in SORTS else "newest"
    number = request.GET.get("page")
    page = history_page(predictions, scans, number, counts["total"], PAGE_SIZE, sort)
    filters = request.GET.copy()
    filters.pop("page", None)
    unsorted = filters.copy()
    unsorted.pop("sort", None)
    context = {
        "page": page,
        "form": form,
        "counts": counts,
        "filters": filters.urlencode(),
        "sort": sort,
        "unsorted": unsorted.urlencode(),
        "new_reviews": reviewed_since_last_visit(request.user),
    }  # the template adds the newest studies (studies.templatetags.study_history)
    return render(request, "predictions/dashboard.html", context)


@clinician_required
@uploads_allowed()
def upload(request: AuthenticatedRequest) -> HttpResponse:
    # Bound on every POST, even one that carries no file: an unbound form is invalid without
    # an error, and the page would come back (400) with nothing telling the clinician why.
    post = request.method == "POST"
    form = ScanUploadForm(request.POST if post else None, request.FILES if post else None)
    if request.method == "POST" and form.is_valid():
        predictions = services.submit_scans(
            request.user,
            form.cleaned_data["images"],
            case_reference=form.cleaned_data["case_reference"],
        )
        if len(predictions) == 1:
            return redirect("predictions:detail", predictions[0].scan_id)
        return redirect("predictions:batch", predictions[0].scan.batch)
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "max_bytes": settings.MAX_UPLOAD_BYTES,
        "max_files": settings.MAX_FILES_PER_UPLOAD,
    }
    return render(request, "predictions/upload.html", context, status=status)


@clinician_required
@require_POST
@uploads_allowed(upload_refused_json)
def upload_file(request: AuthenticatedRequest) -> JsonResponse:
    """Store one file (all its slices, or none) in the page's batch; JSON for the page's script."""
    form = ScanFileForm(request.user, request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse({"error": _first_error(form)}, status=400)
    batch = form.cleaned_data["batch"]
    position = form.cleaned_data["position"]
    uploads = [dataclasses.replace(u, position=position) for u in form.cleaned_data["images"]]
    if not form.cleaned_data["allow_duplicate"]:
        earlier = services.earlier_upload(request.user, [u.sha256 for u in uploads])
        if earlier is not None:  # nothing is stored: the page asks whether to go on
            return JsonResponse(
                {
                    "error": "You uploaded this file before.",
                    "duplicate_of": duplicate_json(earlier),
                },
                status=409,
            )
    predictions = services.submit_scans(
        request.user,
        uploads,
        case_reference=form.cleaned_data["case_reference"],
        batch=batch,
    )
    scans = [
        {"id": p.scan_id, "url": reverse("predictions:detail", args=[p.scan_id])}
        for p in predictions
    ]
    return JsonResponse(
        {
            "batch": str(batch),
            "batch_url": reverse("predictions:batch", args=[batch]),
            "scans": scans,
        },
        status=201,
    )


def duplicate_json(scan: Scan) -> dict[str, object]:
    """An earlier scan of the same file, for the page's warning and the API's `duplicate_of`."""
    return {
        "id": scan.pk,
        "url": reverse("predictions:detail", args=[scan.pk]),
        "uploaded_at": timezone.localtime(scan.uploaded_at).isoformat(timespec="seconds"),
    }


def _first_error(form: forms.Form) -> str:
    """The message the clinician needs, led by the field it is about (the file comes first)."""
    for name in ("images", *form.fields, "__all__"):
        errors = form.errors.get(name)
        if errors:
            if name in ("images", "__all__"):
                return str(errors[0])
            return f"{form.fields[name].label}: {errors[0]}"
    return "The upload was not accepted."


UPLOAD_ORDER = (
    F("upload_position").asc(nulls_last=True),
    F("frame_index").asc(nulls_first=True),
    "id",
)


def _batch_scans(request: AuthenticatedRequest, batch: uuid.UUID) -> list[Scan]:
    """The batch's slices in upload order: the order the files were chosen, then by frame."""
    scans = list(services.scans_for_user(request.user).filter(batch=batch).order_by(*UPLOAD_ORDER))
    if not scans:
        raise Http404
    return scans


@clinician_required
def batch(request: AuthenticatedRequest, batch: uuid.UUID) -> HttpResponse:
    scans = _batch_scans(request, batch)
    _mark_earlier_uploads(scans)
    return render(request, "predictions/batch.html", {"scans": scans, "batch": batch})


def _mark_earlier_uploads(scans: list[Scan]) -> None:
    """Set `earlier` on each scan to its owner's first scan of the same file, if older (one query)."""
    owner_id = scans[0].owner_id  # a batch has one owner
    first: dict[str, Scan] = {}
    same_files = Scan.objects.filter(owner_id=owner_id, sha256__in={s.sha256 for s in scans})
    for other in same_files.order_by("-pk").only("pk", "sha256", "uploaded_at"):
        first[other.sha256] = other  # the lowest id wins
    for scan in scans:
        earlier = first.get(scan.sha256)
        scan.earlier = earlier if earlier is not None and earlier.pk < scan.pk else None


@clinician_required
@require_GET
def batch_status(request: AuthenticatedRequest, batch: uuid.UUID) -> JsonResponse:
    scans = _batch_scans(request, batch)
    return JsonResponse({"scans": [_status_json(scan) for scan in scans]})


@clinician_required
def detail(request: AuthenticatedRequest, scan_id: int) -> HttpResponse:
    scan = services.get_scan_for_user(request.user, scan_id)
    context = {
        "scan": scan,
        "prediction": scan.prediction,
        "earlier": services.earlier_upload(scan.owner, [scan.sha256], before=scan.pk),
        **result_context(scan),
    }
    return render(request, "predictions/detail.html", context)


@clinician_required
@require_GET
def status(request: AuthenticatedRequest, scan_id: int) -> JsonResponse:
    return JsonResponse(_status_json(services.get_scan_for_user(request.user, scan_id)))


def _status_json(scan: Scan) -> dict[str, object]:
    prediction: Prediction = scan.prediction
    return {
        "id": scan.pk,
        "upload_order": scan.upload_order,
        "status": prediction.status,
        "status_display": prediction.get_status_display(),
        "finished": prediction.is_finished,
        "label": prediction.label,
        "label_display": prediction.get_label_display(),
        "confidence": prediction.confidence,
        "risk": prediction.risk,
        "risk_display": prediction.get_risk_display(),
        "error": prediction.error,
        "url": reverse("predictions:detail", args=[scan.pk]),
    }


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
        retention.delete_scan(request.user, scan)
        messages.success(
            request, f"Scan {scan_id} was deleted, with its slice, heatmap and result."
        )
        return redirect("predictions:dashboard")
    return render(request, "predictions/confirm_delete.html", {"scan": scan})
