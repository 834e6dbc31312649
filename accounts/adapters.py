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

    def confirm_email(self, request: HttpRequest, email_address):
        """The welcome note comes once the address is confirmed, not at sign-up: sign-up must
        answer the same way whether or not the address already has an account (allauth's
        enumeration prevention), and only a new account would have had the note."""
        confirmed = super().confirm_email(request, email_address)
        if not email_address.user.can_analyze:
            request._brainscan_awaiting_approval = True  # type: ignore[attr-defined]
            messages.info(
                request,
                "Welcome. Your account is waiting for an administrator to approve it as a "
                "clinician; uploading opens once that is done.",
            )
        return confirmed

    def add_message(
        self, request: HttpRequest, level: int, message_template: str | None = None, *args, **kwargs
    ) -> None:
        """No "Successfully signed in" right after confirming an address that still waits
        for approval: beside the welcome note and the "waiting for approval" page that
        follows, it read as if the account were ready."""
        if message_template == "account/messages/logged_in.txt" and getattr(
            request, "_brainscan_awaiting_approval", False
        ):
            return
        super().add_message(request, level, message_template, *args, **kwargs)
