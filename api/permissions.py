from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class IsApprovedClinician(BasePermission):
    message = (
        "This account is not approved to analyse scans yet: an administrator must approve it "
        "as a clinician."
    )

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.can_analyze)
