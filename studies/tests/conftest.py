from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile


def uploads(files: list[bytes], names: list[str] | None = None) -> list[SimpleUploadedFile]:
    names = names or [f"IM{i:04d}" for i in range(len(files))]
    return [SimpleUploadedFile(name, data) for name, data in zip(names, files, strict=True)]


class Upload(io.BytesIO):
    """What studies.reading needs of an uploaded file: read, seek, size."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.size = len(data)
