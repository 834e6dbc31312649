from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.roles import ensure_roles
        from accounts.sessions import session_started

        user_logged_in.connect(session_started, dispatch_uid="accounts.session_started")

        # Sent once per app; by the last one every permission exists.
        post_migrate.connect(ensure_roles, dispatch_uid="accounts.ensure_roles")
