from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from accounts.models import User
from predictions.models import Scan
from predictions.uploads import (
    InvalidUpload,
    Limits,
    PixelBudget,
    ValidatedUpload,
    validate_upload,
    validate_upload_slices,
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if not files and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class ScanUploadForm(forms.Form):
    images = MultipleFileField(
        label="MRI slices",
        help_text=(
            "JPEG, PNG, WEBP, TIFF or DICOM (MR only); one axial, coronal or sagittal slice per "
            "image. Every frame of a multi-frame DICOM file is analysed as its own slice."
        ),
        widget=MultipleFileInput(
            attrs={"accept": "image/jpeg,image/png,image/webp,image/tiff,application/dicom,.dcm"}
        ),
    )
    case_reference = forms.CharField(
        label="Case reference (optional)",
        max_length=100,
        required=False,
        help_text="An internal reference to find these scans later. Do not type patient names.",
    )

    def clean_images(self) -> list[ValidatedUpload]:
        files: list[UploadedFile] = self.cleaned_data["images"]
        if len(files) > settings.MAX_FILES_PER_UPLOAD:
            raise forms.ValidationError(
                f"Upload at most {settings.MAX_FILES_PER_UPLOAD} files at once."
            )
        validated: list[ValidatedUpload] = []
        errors = []
        budget = pixel_budget()  # one for the whole request: every file is charged to it
        for number, upload in enumerate(files, start=1):
            try:
                slices = read_and_validate_slices(upload, budget)
                validated += [dataclasses.replace(s, position=number) for s in slices]
            except InvalidUpload as exc:
                errors.append(f"File {number} ({_display_name(upload)}): {exc}")
        if errors:
            raise forms.ValidationError(errors)
        if len(validated) > settings.MAX_FILES_PER_UPLOAD:  # multi-frame DICOM files add up
            raise forms.ValidationError(
                f"These files hold {len(validated)} slices; upload at most "
                f"{settings.MAX_FILES_PER_UPLOAD} at once."
            )
        return validated


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


def pixel_budget() -> PixelBudget:
    """The pixels one request may decode (MAX_UPLOAD_PIXELS), shared by all its files."""
    return PixelBudget(settings.MAX_UPLOAD_PIXELS)


def read_and_validate(upload: UploadedFile) -> ValidatedUpload:
    """One slice per file (a multi-frame DICOM file is refused from its header)."""
    return validate_upload(_read_capped(upload), budget=pixel_budget(), **_limits())


def read_and_validate_slices(
    upload: UploadedFile, budget: PixelBudget | None = None
) -> list[ValidatedUpload]:
    """Every slice in the file: one for an image, one per frame for a DICOM file."""
    budget = budget if budget is not None else pixel_budget()
    return validate_upload_slices(_read_capped(upload), budget=budget, **_limits())


def _read_capped(upload: UploadedFile) -> bytes:
    if upload.size is not None and upload.size > settings.MAX_UPLOAD_BYTES:
        raise InvalidUpload(
            f"The file is larger than {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
        )
    upload.seek(0)
    return upload.read(settings.MAX_UPLOAD_BYTES + 1)


def _limits() -> Limits:
    return {
        "max_bytes": settings.MAX_UPLOAD_BYTES,
        "max_pixels": settings.MAX_IMAGE_PIXELS,
        "max_frames": settings.MAX_DICOM_FRAMES,
    }


def _display_name(upload: UploadedFile) -> str:
    """The name as the clinician's browser sent it, shortened; shown back to them only."""
    name = (upload.name or "unnamed").replace("\\", "/").rsplit("/", 1)[-1]
    return name if len(name) <= 60 else name[:57] + "..."
