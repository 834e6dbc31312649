"""The REST API for whole studies: submit one, read it and its slices, delete it.

As for scans, every id is looked up among the caller's own studies: another clinician's
ids answer 404 exactly like ids that do not exist.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.db.models import QuerySet
from django.http import FileResponse
from django.urls import reverse
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from api.authentication import TokenRequest
from api.exceptions import BadImage, PayloadTooLarge
from api.views import (
    MAX_WAIT_SECONDS,
    AnyAccept,
    TokenAPIView,
    _valid,
    wait_until_finished,
)
from predictions.files import private_file_response
from studies import services
from studies.models import Series, Study, StudySlice
from studies.reading import StudyRefused
from studies.views import too_large


class StudyParams(serializers.Serializer):
    wait = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_WAIT_SECONDS, default=0
    )


class StudyForm(serializers.Serializer):
    case_reference = serializers.CharField(
        required=False, allow_blank=True, max_length=100, default=""
    )


def own_studies(request: TokenRequest) -> QuerySet[Study]:
    return Study.objects.filter(owner=request.user)


def get_own_study(request: TokenRequest, study_id: int) -> Study:
    study = own_studies(request).filter(pk=study_id).first()
    if study is None:
        raise exceptions.NotFound("You have no study with this id.")
    return study


def study_result(study: Study, request: Request) -> dict[str, Any]:
    """The JSON shape of one study (documented in api/schema.py)."""
    done = study.status == Study.Status.DONE
    return {
        "id": study.pk,
        "status": study.status,
        "finished": study.is_finished,
        "slices_total": study.slices_total,
        "slices_analysed": study.slices_analysed,
        "label": study.label or None,
        "tumour_probability": study.tumour_probability,
        "risk": study.risk or None,
        "flagged_slices": study.flagged_slices if done else [],
        "driving_slices": study.driving_slices if done else [],
        "rule": (study.rule or None) if study.is_finished else None,
        "model_version": study.model_version or None,
        "series": [
            {
                "id": s.pk,
                "number": s.number,
                "source_format": s.source_format,
                "description": s.description,
                "orientation": s.orientation or None,
                "handling": s.handling or None,
                "source_slices": s.source_slices,
                "slices": s.analysed,
                "skipped_reason": s.skipped_reason or None,
                "notes": s.notes,
            }
            for s in _series(study)
        ],
        "file_errors": study.file_errors,
        "error": study.error or None,
        "case_reference": study.case_reference,
        "source_format": study.source_format,
        "uploaded_at": study.uploaded_at.isoformat(),
        "finished_at": study.finished_at.isoformat() if study.finished_at else None,
        "status_url": _url(request, "api:study-detail", study.pk),
        "slices_url": _url(request, "api:study-slices", study.pk),
        "result_url": _url(request, "studies:detail", study.pk),
    }


def _series(study: Study) -> QuerySet[Series, Any]:
    from django.db.models import Count

    return study.series.annotate(analysed=Count("slices")).order_by("number")


def _url(request: Request, name: str, *args: object) -> str:
    return request.build_absolute_uri(reverse(name, args=args))


def slice_result(row: StudySlice, study: Study, request: Request) -> dict[str, Any]:
    flagged = row.index in set(study.flagged_slices)
    return {
        "index": row.index,
        "series": row.series.number,
        "position_mm": row.position_mm,
        "status": row.status,
        "label": row.label or None,
        "probabilities": row.probabilities or None,
        "tumour_probability": row.tumour_probability,
        "risk": row.risk or None,
        "flagged": flagged,
        "gate_score": row.gate_score,
        "rejection_reason": row.gate_reason or None,
        "unfamiliar": row.unfamiliar,
        "heatmap_class": row.heatmap_class or None,
        "image_url": _url(request, "api:study-slice-image", study.pk, row.index),
        "heatmap_url": _url(request, "api:study-slice-heatmap", study.pk, row.index)
        if row.heatmap
        else None,
    }


class StudyListView(TokenAPIView):
    parser_classes = (MultiPartParser, FormParser)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Files stream to temporary files on disk, not to memory (a 100 MB series).
        request._request.upload_handlers = [TemporaryFileUploadHandler(request._request)]
        super().initial(request, *args, **kwargs)

    def get(self, request: TokenRequest) -> Response:
        paginator = StudyPages()
        page = paginator.paginate_queryset(own_studies(request), request, view=self)
        return paginator.get_paginated_response([study_result(s, request) for s in page or []])

    def post(self, request: TokenRequest) -> Response:
        if too_large(request._request):
            raise PayloadTooLarge(
                f"The study is larger than {settings.STUDY_MAX_BYTES // (1024 * 1024)} MB."
            )
        wait = _valid(StudyParams, request.query_params)["wait"]
        form = _valid(StudyForm, request.data)
        files = request.FILES.getlist("files")
        if not files:
            raise BadImage(
                "Send the study as multipart form fields named 'files' (DICOM files, one .zip "
                "or a NIfTI volume)."
            )
        try:
            study_read = services.read_upload(files)
        except StudyRefused as exc:
            raise (PayloadTooLarge if exc.too_large else BadImage)(str(exc)) from None
        study = services.submit_study(
            request.user, study_read, case_reference=form["case_reference"]
        )
        if wait:
            wait_until_finished(Study, study.pk, min(wait, settings.API_MAX_WAIT_SECONDS))
        study.refresh_from_db()
        body = study_result(study, request)
        code = status.HTTP_200_OK if body["finished"] else status.HTTP_202_ACCEPTED
        return Response(body, status=code, headers={"Location": body["status_url"]})


class StudyPages(PageNumberPagination):
    page_size = 25


class SlicePages(PageNumberPagination):
    page_size = 50


class StudyDetailView(TokenAPIView):
    def get(self, request: TokenRequest, study_id: int) -> Response:
        return Response(study_result(get_own_study(request, study_id), request))

    def delete(self, request: TokenRequest, study_id: int) -> Response:
        services.delete_study(request.user, get_own_study(request, study_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class StudySlicesView(TokenAPIView):
    def get(self, request: TokenRequest, study_id: int) -> Response:
        study = get_own_study(request, study_id)
        rows = study.slices.select_related("series").order_by("index")
        paginator = SlicePages()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(
            [slice_result(row, study, request) for row in page or []]
        )


class _SliceFileView(TokenAPIView):
    content_negotiation_class = AnyAccept
    field = "image"

    def get(self, request: TokenRequest, study_id: int, index: int) -> FileResponse:
        study = get_own_study(request, study_id)
        row = StudySlice.objects.filter(study=study, index=index).first()
        if row is None:
            raise exceptions.NotFound("This study has no slice with this index.")
        suffix = "" if self.field == "image" else "-heatmap"
        name = f"study-{study.pk}-slice-{index}{suffix}.png"
        return private_file_response(getattr(row, self.field), "image/png", name)


class StudySliceImageView(_SliceFileView):
    field = "image"


class StudySliceHeatmapView(_SliceFileView):
    field = "heatmap"
