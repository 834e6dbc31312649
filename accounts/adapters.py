from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from brainscan.clientip import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        """The address allauth's rate limits count against: the same one the audit log records.

        allauth's own reading (ALLAUTH_TRUSTED_PROXY_COUNT) is set from NUM_PROXIES too, but
        going through brainscan.clientip keeps a single implementation for every consumer.
        """
        ip = client_ip(request)
        if ip is None:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def save_user(self, request: HttpRequest, user, form, commit: bool = True):  # type: ignore[no-untyped-def]
        user = super().save_user(request, user, form, commit=commit)
        messages.info(
            request,
            "Welcome. Your account is waiting for an administrator to approve it as a "
            "clinician; you can sign in meanwhile, and uploading opens once it is approved.",
        )
        return user
