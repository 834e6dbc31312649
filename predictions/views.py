from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedRequest
from predictions import services
from predictions.files import private_file_response
from predictions.filters import SORTS, HistoryFilterForm, history_counts, history_page
from predictions.forms import ScanUploadForm
from predictions.models import Prediction, Scan
from predictions.results import result_context
from predictions.reviews import reviewed_since_last_visit

View = Callable[..., HttpResponseBase]
PAGE_SIZE = 25


def clinician_required(view: View) -> View:
    """Signed in, and approved to analyse scans; otherwise a kind explanation (403)."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if not (request.user.can_analyze or request.user.is_reviewer):
            return render(request, "accounts/awaiting_approval.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


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
        **_studies_beside(request, form),
    }
    return render(request, "predictions/dashboard.html", context)


STUDIES_ON_DASHBOARD = 5


def _studies_beside(request: AuthenticatedRequest, form: HistoryFilterForm) -> dict[str, object]:
    """The newest of the clinician's studies that the same filters pick, for the history."""
    from studies.filters import filter_studies
    from studies.models import Study

    studies = filter_studies(form, Study.objects.filter(owner=request.user))
    return {
        "studies": list(studies.order_by("-uploaded_at", "-pk")[:STUDIES_ON_DASHBOARD]),
        "studies_total": studies.count(),
    }


@clinician_required
def upload(request: AuthenticatedRequest) -> HttpResponse:
    if not request.user.can_analyze:
        return render(request, "accounts/awaiting_approval.html", status=403)
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
@require_GET
def scan_image(request: AuthenticatedRequest, scan_id: int) -> FileResponse:
    scan = services.get_scan_for_user(request.user, scan_id)
    extension = scan.image.name.rsplit(".", 1)[-1] if scan.image.name else "bin"
    return private_file_response(scan.image, scan.content_type, f"scan-{scan.pk}.{extension}")


@clinician_required
@require_GET
def overlay_image(request: AuthenticatedRequest, scan_id: int) -> FileResponse:
    scan = services.get_scan_for_user(request.user, scan_id)
    return private_file_response(
        scan.prediction.overlay, "image/png", f"scan-{scan.pk}-gradcam-overlay.png"
    )


@clinician_required
@require_GET
def heatmap_image(request: AuthenticatedRequest, scan_id: int) -> FileResponse:
    scan = services.get_scan_for_user(request.user, scan_id)
    return private_file_response(
        scan.prediction.heatmap, "image/png", f"scan-{scan.pk}-gradcam-heatmap.png"
    )
