"""The clinician workspace beyond the basic pages: one-file uploads, export, preview, model card.

The dashboard, upload, batch and result pages live in predictions.views; these views add
what their JavaScript and links need.
"""

from __future__ import annotations

import dataclasses
import io
import uuid
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from PIL import Image

from accounts.http import AuthenticatedRequest
from accounts.models import User
from ml.image.decode import UnreadableImage, decode_image
from predictions import card_page, services
from predictions.export import csv_response
from predictions.filters import HistoryFilterForm
from predictions.forms import ScanUploadForm, read_and_validate_slices
from predictions.model_card import (
    card_path,
    load_installed_card,
    operating_point_sentence,
    results_by_source,
)
from predictions.models import Scan
from predictions.validation import InvalidUpload, ValidatedUpload
from predictions.views import clinician_required


class ScanFileForm(ScanUploadForm):
    """One file of an upload page submission; `batch` joins it to the files sent before."""

    batch = forms.UUIDField(label="Batch")
    # The file's place among the files chosen on the page (1 for the first): the batch page
    # and the CSV number slices by it, since parallel requests arrive in any order.
    position = forms.IntegerField(label="Position", required=False, min_value=1, max_value=100_000)
    # Sent after the page warned that this file was uploaded before and the user went on.
    allow_duplicate = forms.BooleanField(label="Upload again", required=False)

    def __init__(self, owner: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_images(self) -> list[ValidatedUpload]:
        files = self.cleaned_data["images"]
        if len(files) != 1:
            raise forms.ValidationError("Send exactly one file per request.")
        try:
            return read_and_validate_slices(files[0])
        except InvalidUpload as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_batch(self) -> uuid.UUID:
        batch = self.cleaned_data["batch"]
        if Scan.objects.filter(batch=batch).exclude(owner=self.owner).exists():
            raise forms.ValidationError("This batch belongs to another account; reload the page.")
        return batch


@clinician_required
@require_POST
def upload_file(request: AuthenticatedRequest) -> JsonResponse:
    """Store one file (all its slices, or none) in the page's batch; JSON for the page's script."""
    if not request.user.can_analyze:
        return JsonResponse({"error": "Your account may not upload scans."}, status=403)
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


@login_required
@require_GET
def model_card(request: AuthenticatedRequest) -> HttpResponse:
    """The installed model's card, or a plain page saying that no model is installed yet."""
    card = load_installed_card()
    transfer, source_rows = results_by_source(card)
    uses, limits = card_page.limits(card.data) if card else ([], [])
    context = {
        "transfer_summary": transfer,
        "source_rows": source_rows,
        "card": card,
        "card_file": card_path().name,
        "operating_point": operating_point_sentence(card),
        "asked_version": request.GET.get("version", "")[:64],
        "details": card_page.details(card.data) if card else [],
        "performance": card_page.performance(card.data) if card else [],
        "intended_use": uses,
        "known_limits": limits,
        "class_labels": card_page.class_labels(card.data) if card else [],
        "normal_label": card_page.normal_label(card.data) if card else "",
    }
    return render(request, "predictions/model_card.html", context)
