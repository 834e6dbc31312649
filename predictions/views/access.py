"""Who may open a page: the decorators of the predictions and studies views.

`can_analyze` (an approved clinician, who may upload) is checked here only: `clinician_required`
lets in clinicians and reviewers, `uploads_allowed` then keeps the upload views to those who
may upload, refused with the page or the JSON the caller needs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from accounts.http import AuthenticatedRequest

View = Callable[..., HttpResponseBase]
Refusal = Callable[[AuthenticatedRequest], HttpResponseBase]


def awaiting_approval(request: AuthenticatedRequest) -> HttpResponse:
    """The kind explanation (403) for an account not approved to analyse scans yet."""
    return render(request, "accounts/awaiting_approval.html", status=403)


def upload_refused_json(request: AuthenticatedRequest) -> JsonResponse:
    """The same refusal for the upload page's script."""
    return JsonResponse({"error": "Your account may not upload scans."}, status=403)


def clinician_required(view: View) -> View:
    """Signed in, and approved to analyse scans or a reviewer; otherwise a kind explanation (403)."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if not (request.user.can_analyze or request.user.is_reviewer):
            return awaiting_approval(request)
        return view(request, *args, **kwargs)

    return wrapper


def uploads_allowed(refusal: Refusal = awaiting_approval) -> Callable[[View], View]:
    """Below `clinician_required`: only a user who may analyse scans (not a reviewer alone)
    reaches the view; anyone else gets `refusal`."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(
            request: AuthenticatedRequest, *args: object, **kwargs: object
        ) -> HttpResponseBase:
            if not request.user.can_analyze:
                return refusal(request)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def reviewer_required(view: View) -> View:
    """Signed in as a reviewer; anyone else gets 403."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if not request.user.is_reviewer:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper
