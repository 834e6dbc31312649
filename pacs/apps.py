from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


class PacsConfig(AppConfig):
    name = "pacs"
    verbose_name = "DICOM network"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from pacs import delivery

        checks.register(identifiers_key_check)
        delivery.connect()


def identifiers_key_check(app_configs: Any = None, **_: Any) -> list[checks.CheckMessage]:
    """A PACS_IDENTIFIERS_KEY that is not a Fernet key would only fail at the first study."""
    from django.conf import settings

    from pacs.identifiers import valid_key

    if valid_key(settings.PACS_IDENTIFIERS_KEY):
        return []
    return [
        checks.Error(
            "PACS_IDENTIFIERS_KEY is not a Fernet key (32 url-safe base64-encoded bytes; "
            "several may be given, comma-separated).",
            id="pacs.E001",
        )
    ]
