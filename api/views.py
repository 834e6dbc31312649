"""The REST API: analyse one image, read and delete one's own scans, fetch their images.

Access is per token owner: every id is looked up among the caller's own scans, so another
clinician's ids answer 404 exactly like ids that do not exist.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import FileResponse
from django.urls import reverse
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from api.authentication import TokenAuthentication, TokenRequest
from api.exceptions import BadImage, PayloadTooLarge, api_exception_handler
from api.permissions import IsApprovedClinician
from api.serializers import scan_result
from api.throttling import TokenRateThrottle
from predictions import retention, services
from predictions.files import private_file_response
from predictions.forms import read_and_validate
from predictions.models import Prediction, Scan
from predictions.uploads import InvalidUpload
from studies.models import Study

MAX_WAIT_SECONDS = 30
POLL_SECONDS = 0.25
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and the other fields around the image


class TokenAPIView(APIView):
    """Token authentication, approved clinicians only, a rate limit per token, JSON errors."""

    # Never reads the session: the reviewer-MFA rule for sessions (accounts.middleware)
    # lets these through, and only these (not the session page /api/tokens/new).
    token_authenticated_only = True
    authentication_classes: Sequence[type[BaseAuthentication]] = (TokenAuthentication,)
    permission_classes: Sequence[type[BasePermission]] = (IsApprovedClinician,)
    throttle_classes: Sequence[type[BaseThrottle]] = (TokenRateThrottle,)
    renderer_classes = (JSONRenderer,)

    def get_exception_handler(self) -> Any:
        return api_exception_handler


def own_scans(request: TokenRequest) -> QuerySet[Scan]:
    return services.scans_for_user(request.user).filter(owner=request.user)


def get_own_scan(request: TokenRequest, scan_id: int) -> Scan:
    scan = own_scans(request).filter(pk=scan_id).first()
    if scan is None:
        raise exceptions.NotFound("You have no scan with this id.")
    return scan


class AnalyzeParams(serializers.Serializer):
    wait = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_WAIT_SECONDS, default=0
    )


class AnalyzeForm(serializers.Serializer):
    image = serializers.FileField(
        error_messages={"required": "Send the image as a multipart form field named 'image'."}
    )
    case_reference = serializers.CharField(
        required=False, allow_blank=True, max_length=100, default=""
    )


class AnalyzeView(TokenAPIView):
    parser_classes = (MultiPartParser, FormParser)

    def post(self, request: TokenRequest) -> Response:
        _refuse_oversized_body(request)
        wait = _valid(AnalyzeParams, request.query_params)["wait"]
        form = _valid(AnalyzeForm, request.data)
        upload = _one_image(request, form["image"])
        try:
            validated = read_and_validate(upload)
        except InvalidUpload as exc:
            raise BadImage(str(exc)) from None
        validated = dataclasses.replace(validated, position=1)  # one file per call and batch
        [prediction] = services.submit_scans(
            request.user, [validated], case_reference=form["case_reference"]
        )
        if wait:
            wait_until_finished(Prediction, prediction.pk, min(wait, settings.API_MAX_WAIT_SECONDS))
        scan = get_own_scan(request, prediction.scan_id)
        body = scan_result(scan, request)
        body["duplicate_of"] = _duplicate_of(request, scan)
        code = status.HTTP_200_OK if body["finished"] else status.HTTP_202_ACCEPTED
        return Response(body, status=code, headers={"Location": body["status_url"]})


def _duplicate_of(request: TokenRequest, scan: Scan) -> dict[str, Any] | None:
    """Your earlier scan of the same file (same SHA-256), if any: this one is stored anyway."""
    earlier = services.earlier_upload(request.user, [scan.sha256], before=scan.pk)
    if earlier is None:
        return None
    return {
        "id": earlier.pk,
        "uploaded_at": earlier.uploaded_at.isoformat(),
        "status_url": request.build_absolute_uri(reverse("api:scan-detail", args=[earlier.pk])),
        "result_url": request.build_absolute_uri(reverse("predictions:detail", args=[earlier.pk])),
    }


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _refuse_oversized_body(request: Request) -> None:
    """Answer 413 from the Content-Length, before the body is read and spooled to disk."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(_too_large_message())


def _one_image(request: Request, upload: UploadedFile) -> UploadedFile:
    if len(request.FILES.getlist("image")) > 1:
        raise BadImage("Send one image per request.")
    if upload.size is not None and upload.size > settings.MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(_too_large_message())
    return upload


def _too_large_message() -> str:
    return f"The image is larger than {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MB."


def wait_until_finished(model: type[Prediction] | type[Study], pk: int, seconds: float) -> None:
    """Poll the database until the analysis (a scan's prediction or a study) ends or
    `seconds` pass.

    The row is the source of truth whether the task runs in a worker or in-process; each
    query sees the latest commit (autocommit, READ COMMITTED on MySQL).
    """
    deadline = time.monotonic() + seconds
    rows = model.objects.filter(pk=pk).values_list("status", flat=True)
    while True:
        current = rows.first()
        if current is None or current in model.FINISHED or time.monotonic() >= deadline:
            return
        time.sleep(POLL_SECONDS)


class ScanPages(PageNumberPagination):
    page_size = 25


class ScanListView(TokenAPIView):
    def get(self, request: TokenRequest) -> Response:
        paginator = ScanPages()
        page = paginator.paginate_queryset(own_scans(request), request, view=self)
        return paginator.get_paginated_response([scan_result(scan, request) for scan in page or []])


class ScanDetailView(TokenAPIView):
    def get(self, request: TokenRequest, scan_id: int) -> Response:
        return Response(scan_result(get_own_scan(request, scan_id), request))

    def delete(self, request: TokenRequest, scan_id: int) -> Response:
        retention.delete_scan(request.user, get_own_scan(request, scan_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnyAccept(BaseContentNegotiation):
    """Image endpoints answer PNG whatever the Accept header says; errors stay JSON."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers))

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = next(iter(renderers))
        return first, first.media_type


class _ImageView(TokenAPIView):
    content_negotiation_class = AnyAccept

    def get(self, request: TokenRequest, scan_id: int) -> FileResponse:
        return self.file_for(get_own_scan(request, scan_id))

    def file_for(self, scan: Scan) -> FileResponse:
        raise NotImplementedError


class ScanImageView(_ImageView):
    def file_for(self, scan: Scan) -> FileResponse:
        extension = scan.image.name.rsplit(".", 1)[-1] if scan.image.name else "bin"
        return private_file_response(scan.image, scan.content_type, f"scan-{scan.pk}.{extension}")


class OverlayImageView(_ImageView):
    def file_for(self, scan: Scan) -> FileResponse:
        name = f"scan-{scan.pk}-gradcam-overlay.png"
        return private_file_response(scan.prediction.overlay, "image/png", name)


class HeatmapImageView(_ImageView):
    def file_for(self, scan: Scan) -> FileResponse:
        name = f"scan-{scan.pk}-gradcam-heatmap.png"
        return private_file_response(scan.prediction.heatmap, "image/png", name)


class NotFoundView(TokenAPIView):
    """Any other path under /api/: a JSON 404, whoever asks and whatever the method."""

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise exceptions.NotFound("There is no API endpoint at this address; see /api/schema.")
