from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.roles import ensure_roles

        # Sent once per app; by the last one every permission exists.
        post_migrate.connect(ensure_roles, dispatch_uid="accounts.ensure_roles")
