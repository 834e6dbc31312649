from __future__ import annotations

from django.apps import AppConfig


class PacsConfig(AppConfig):
    name = "pacs"
    verbose_name = "DICOM network"
    default_auto_field = "django.db.models.BigAutoField"
