"""The stored files of a scan, after the access check: the slice, the Grad-CAM overlay and
heatmap (private responses, predictions.files), and a PNG preview for browsers that cannot show
the stored format."""

from __future__ import annotations

import io
from typing import Literal

from django.http import FileResponse, Http404, HttpResponse
from django.views.decorators.http import require_GET
from PIL import Image

from accounts.http import AuthenticatedRequest
from ml.image.decode import UnreadableImage, decode_image
from predictions import services
from predictions.files import private_file_response
from predictions.views.access import clinician_required


@clinician_required
@require_GET
def scan_image(request: AuthenticatedRequest, scan_id: int) -> FileResponse:
    scan = services.get_scan_for_user(request.user, scan_id)
    extension = scan.image.name.rsplit(".", 1)[-1] if scan.image.name else "bin"
    return private_file_response(scan.image, scan.content_type, f"scan-{scan.pk}.{extension}")


@clinician_required
@require_GET
def overlay_image(request: AuthenticatedRequest, scan_id: int) -> FileResponse:
    return _gradcam_image(request, scan_id, "overlay")


@clinician_required
@require_GET
def heatmap_image(request: AuthenticatedRequest, scan_id: int) -> FileResponse:
    return _gradcam_image(request, scan_id, "heatmap")


def _gradcam_image(
    request: AuthenticatedRequest, scan_id: int, kind: Literal["overlay", "heatmap"]
) -> FileResponse:
    scan = services.get_scan_for_user(request.user, scan_id)
    field = scan.prediction.overlay if kind == "overlay" else scan.prediction.heatmap
    return private_file_response(field, "image/png", f"scan-{scan.pk}-gradcam-{kind}.png")


@clinician_required
@require_GET
def scan_preview(request: AuthenticatedRequest, scan_id: int) -> HttpResponse:
    """The slice as an 8-bit PNG for browsers that cannot show its stored format (TIFF)."""
    scan = services.get_scan_for_user(request.user, scan_id)
    if not scan.image:
        raise Http404
    try:
        with scan.image.open("rb") as handle:
            gray = decode_image(handle.read())
    except (FileNotFoundError, UnreadableImage):
        raise Http404 from None
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, format="PNG")
    response = HttpResponse(buffer.getvalue(), content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
