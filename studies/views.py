"""Study pages: upload a whole study, follow it, read its summary and browse its slices."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from accounts.http import AuthenticatedRequest
from predictions.export import chunked, csv_response, iso, stamp, stream_csv
from predictions.files import private_file_response
from predictions.history import HistoryFilterForm
from predictions.views.access import clinician_required, uploads_allowed
from studies import services
from studies.filters import filter_studies
from studies.models import Study, StudySlice
from studies.presentation import plot, slice_rows, study_json, summary_sentence
from studies.reading import StudyRefused

MULTIPART_OVERHEAD = 256 * 1024
PAGE_SIZE = 25
STREAM_PAGE = 500  # studies per block of the streamed CSV (and per query)


class StudyUploadForm(forms.Form):
    case_reference = forms.CharField(
        label="Case reference (optional)",
        max_length=100,
        required=False,
        help_text="An internal reference to find this study later. Do not type patient names.",
    )


def too_large(request: HttpRequest) -> bool:
    """From the Content-Length alone, before the body is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return length > settings.STUDY_MAX_BYTES + MULTIPART_OVERHEAD


@csrf_exempt  # the CSRF check runs in _upload, after the upload handlers are set
@clinician_required
@require_http_methods(["GET", "POST"])
def upload(request: AuthenticatedRequest) -> HttpResponseBase:
    # Every file goes to a temporary file on disk as it arrives (not to memory): a 100 MB
    # series streams through, and the reader opens one file at a time.
    request.upload_handlers = [TemporaryFileUploadHandler(request)]
    return _upload(request)


@csrf_protect
@uploads_allowed()
def _upload(request: AuthenticatedRequest) -> HttpResponse:
    wants_json = "application/json" in request.headers.get("Accept", "")
    if request.method == "POST":
        if too_large(request):
            return _refused(request, StudyUploadForm(), _too_large_message(), 413, wants_json)
        form = StudyUploadForm(request.POST)
        files = request.FILES.getlist("files")
        if not files:
            return _refused(
                request,
                form,
                "Choose the study's files, a folder, a .zip or a NIfTI volume.",
                400,
                wants_json,
            )
        if form.is_valid():
            try:
                study_read = services.read_upload(files)
            except StudyRefused as exc:
                return _refused(request, form, str(exc), 413 if exc.too_large else 400, wants_json)
            study = services.submit_study(
                request.user, study_read, case_reference=form.cleaned_data["case_reference"]
            )
            url = reverse("studies:detail", args=[study.pk])
            if wants_json:
                return JsonResponse({"id": study.pk, "url": url}, status=201)
            return redirect(url)
        return _refused(request, form, "Correct the case reference.", 400, wants_json)
    return render(request, "studies/upload.html", _upload_context(StudyUploadForm()))


def _refused(
    request: AuthenticatedRequest,
    form: StudyUploadForm,
    message: str,
    status: int,
    wants_json: bool,
) -> HttpResponse:
    if wants_json:
        return JsonResponse({"error": message}, status=status)
    context = {**_upload_context(form), "error": message}
    return render(request, "studies/upload.html", context, status=status)


def _upload_context(form: StudyUploadForm) -> dict[str, Any]:
    return {
        "form": form,
        "max_bytes": settings.STUDY_MAX_BYTES,
        "max_files": settings.STUDY_MAX_FILES,
        "max_slices": settings.STUDY_MAX_SLICES,
    }


def _too_large_message() -> str:
    return f"The study is larger than {settings.STUDY_MAX_BYTES // (1024 * 1024)} MB."


@clinician_required
@require_GET
def study_list(request: AuthenticatedRequest) -> HttpResponse:
    form = HistoryFilterForm(request.GET)
    studies = filter_studies(form, Study.objects.filter(owner=request.user))
    page = Paginator(studies.order_by("-uploaded_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    filters = request.GET.copy()
    filters.pop("page", None)
    context = {"page": page, "form": form, "filters": filters.urlencode()}
    return render(request, "studies/list.html", context)


@clinician_required
@require_GET
def detail(request: AuthenticatedRequest, study_id: int) -> HttpResponse:
    study = services.get_study_for_user(request.user, study_id)
    series = list(study.series.all())
    slices = list(study.slices.select_related("series").order_by("index"))
    context = {
        "study": study,
        "series": series,
        "slices": slices,
        "driving": [s for s in slices if s.index in set(study.driving_slices)],
        "plot": plot(study, slices),
        "summary": summary_sentence(study),
        "browser_data": slice_rows(study, slices),
        "pacs_max_attempts": settings.PACS_SEND_MAX_ATTEMPTS,
    }
    return render(request, "studies/detail.html", context)


@clinician_required
@require_GET
def status(request: AuthenticatedRequest, study_id: int) -> JsonResponse:
    study = services.get_study_for_user(request.user, study_id)
    return JsonResponse(study_json(study))


def _slice(request: AuthenticatedRequest, study_id: int, index: int) -> StudySlice:
    study = services.get_study_for_user(request.user, study_id)
    row = StudySlice.objects.filter(study=study, index=index).first()
    if row is None:
        raise Http404
    return row


@clinician_required
@require_GET
def slice_image(request: AuthenticatedRequest, study_id: int, index: int) -> FileResponse:
    row = _slice(request, study_id, index)
    return private_file_response(row.image, "image/png", f"study-{study_id}-slice-{index}.png")


@clinician_required
@require_GET
def slice_heatmap(request: AuthenticatedRequest, study_id: int, index: int) -> FileResponse:
    row = _slice(request, study_id, index)
    name = f"study-{study_id}-slice-{index}-heatmap.png"
    return private_file_response(row.heatmap, "image/png", name)


SLICE_COLUMNS = [
    "study", "index", "series", "position_mm", "status", "label", "tumour_probability",
    "risk", "flagged", "drives_study_result", "p_glioma", "p_meningioma", "p_notumor",
    "p_pituitary", "gate_score", "unfamiliar", "rejection_reason",
]  # fmt: skip
STUDY_COLUMNS = [
    "study", "uploaded_at", "case_reference", "status", "label", "tumour_probability",
    "risk", "slices_total", "slices_analysed", "flagged_slices", "series", "series_skipped",
    "files_not_read", "source_format", "model_version", "rule", "finished_at", "error",
]  # fmt: skip


@clinician_required
@require_GET
def slices_csv(request: AuthenticatedRequest, study_id: int) -> HttpResponseBase:
    study = services.get_study_for_user(request.user, study_id)
    flagged, driving = set(study.flagged_slices), set(study.driving_slices)
    rows: list[list[object]] = []
    for s in study.slices.select_related("series").order_by("index"):
        p = s.probabilities or {}
        rows.append(
            [
                study.pk,
                s.index,
                s.series.number,
                s.position_mm,
                s.status,
                s.label,
                s.tumour_probability,
                s.risk,
                s.index in flagged,
                s.index in driving,
                p.get("glioma"),
                p.get("meningioma"),
                p.get("notumor"),
                p.get("pituitary"),
                s.gate_score,
                s.unfamiliar,
                s.gate_reason,
            ]  # fmt: skip
        )
    return csv_response(
        stream_csv(SLICE_COLUMNS, [rows]), f"brainscan-study-{study.pk}-slices.csv", stream=False
    )


@clinician_required
@require_GET
def export_csv(request: AuthenticatedRequest) -> HttpResponseBase:
    """One row per study, exactly the studies the list shows for the same filters."""
    form = HistoryFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponse(
            f"Bad filter: {form.first_error()}\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    studies = filter_studies(form, Study.objects.filter(owner=request.user)).order_by(
        "-uploaded_at", "-pk"
    )

    def rows() -> Iterator[list[object]]:  # streamed, a page of studies at a time
        for study in studies.prefetch_related("series").iterator(chunk_size=STREAM_PAGE):
            series = list(study.series.all())
            yield [
                study.pk, iso(study.uploaded_at),
                study.case_reference, study.status, study.label, study.tumour_probability,
                study.risk, study.slices_total, study.slices_analysed,
                " ".join(str(i) for i in study.flagged_slices), len(series),
                sum(1 for s in series if s.skipped_reason), len(study.file_errors),
                study.source_format, study.model_version, (study.rule or {}).get("description", ""),
                iso(study.finished_at),
                study.error,
            ]  # fmt: skip

    pages = chunked(rows(), STREAM_PAGE)
    return csv_response(stream_csv(STUDY_COLUMNS, pages), f"brainscan-studies-{stamp()}.csv")


@clinician_required
@require_http_methods(["GET", "POST"])
def delete(request: AuthenticatedRequest, study_id: int) -> HttpResponse:
    study = services.get_study_for_user(request.user, study_id)
    if study.owner_id != request.user.pk:
        raise Http404
    if request.method == "POST":
        services.delete_study(request.user, study)
        return redirect("studies:list")
    return render(request, "studies/confirm_delete.html", {"study": study})
