from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib import messages
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request: HttpRequest, user, form, commit: bool = True):  # type: ignore[no-untyped-def]
        user = super().save_user(request, user, form, commit=commit)
        messages.info(
            request,
            "Welcome. Your account is waiting for an administrator to approve it as a "
            "clinician; you can sign in meanwhile, and uploading opens once it is approved.",
        )
        return user
