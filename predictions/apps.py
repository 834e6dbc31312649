from __future__ import annotations

from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "predictions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from predictions.files import connect_file_cleanup

        connect_file_cleanup()
