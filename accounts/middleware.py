"""REQUIRE_MFA_FOR_REVIEWERS: reviewers (and superusers) set up two-factor sign-in first.

A reviewer sees every clinician's scans, so when the setting is on, a reviewer without a TOTP
authenticator is sent to set one up before any page other than their account and sign-in
pages. The admin login is routed through allauth (see brainscan/urls.py), so once TOTP is on,
every sign-in asks for the code.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse

MESSAGE = "Reviewers must use two-factor authentication: set up an authenticator app to continue."


class RequireReviewerMFAMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.REQUIRE_MFA_FOR_REVIEWERS and _needs_mfa_first(request):
            messages.warning(request, MESSAGE)
            setup = reverse("mfa_activate_totp")
            return HttpResponseRedirect(f"{setup}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


def _needs_mfa_first(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_reviewer:
        return False
    if request.path.startswith(_exempt_prefixes()) or _is_token_api_call(request):
        return False
    return not is_mfa_enabled(user)


def _exempt_prefixes() -> tuple[str, ...]:
    """Sign-in, sign-out and MFA pages (allauth), the account page, static files."""
    return (
        reverse("account_login").rsplit("login/", 1)[0],
        reverse("accounts:home"),
        "/" + settings.STATIC_URL.lstrip("/"),
    )


def _is_token_api_call(request: HttpRequest) -> bool:
    """A view that authenticates by API token alone and never reads the session.

    The rule is about what a session may reach, so such views need no exemption from it to
    be safe, only to keep working for a reviewer whose browser also holds a session. The whole
    /api/ prefix used to be exempt, which let a reviewer without MFA create a token on the
    session page /api/tokens/new; views mark themselves with `token_authenticated_only`.
    """
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    view_class = getattr(match.func, "view_class", None) or getattr(match.func, "cls", None)
    return bool(getattr(view_class, "token_authenticated_only", False))
