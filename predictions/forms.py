from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from predictions.validation import InvalidUpload, ValidatedUpload, validate_upload


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
        help_text="JPEG, PNG, WEBP or TIFF; one axial, coronal or sagittal slice per file.",
        widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/tiff"}),
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
        validated, errors = [], []
        for number, upload in enumerate(files, start=1):
            try:
                validated.append(read_and_validate(upload))
            except InvalidUpload as exc:
                errors.append(f"File {number} ({_display_name(upload)}): {exc}")
        if errors:
            raise forms.ValidationError(errors)
        return validated


def read_and_validate(upload: UploadedFile) -> ValidatedUpload:
    if upload.size is not None and upload.size > settings.MAX_UPLOAD_BYTES:
        raise InvalidUpload(
            f"The file is larger than {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
        )
    upload.seek(0)
    data = upload.read(settings.MAX_UPLOAD_BYTES + 1)
    return validate_upload(
        data, max_bytes=settings.MAX_UPLOAD_BYTES, max_pixels=settings.MAX_IMAGE_PIXELS
    )


def _display_name(upload: UploadedFile) -> str:
    """The name as the clinician's browser sent it, shortened; shown back to them only."""
    name = (upload.name or "unnamed").replace("\\", "/").rsplit("/", 1)[-1]
    return name if len(name) <= 60 else name[:57] + "..."
