"""Private file storage for scans and heatmaps.

Files live under settings.PRIVATE_MEDIA_ROOT, outside STATIC_ROOT and MEDIA_ROOT, and have no
URL: `url()` raises, so a template that writes `{{ scan.image.url }}` fails loudly instead of
publishing a patient's scan. Views in predictions.views.files serve them after an access check.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class PrivateStorage(FileSystemStorage):
    # Read the setting on every access so tests (and settings overrides) can move it.
    @property
    def base_location(self) -> Path:
        return Path(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self) -> str:
        return str(Path(settings.PRIVATE_MEDIA_ROOT).resolve())

    @property
    def file_permissions_mode(self) -> int:
        return 0o600

    @property
    def directory_permissions_mode(self) -> int:
        return 0o700

    def url(self, name: str | None) -> str:
        raise ValueError(
            "Private files have no public URL; link to the access-checked view instead."
        )


private_storage = PrivateStorage()
