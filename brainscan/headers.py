"""Response headers every dynamic response gets: a Content-Security-Policy and no caching.

- CSP, on every HTML page: scripts and styles only from our own static files, no inline
  script or style (the templates keep theirs in static/), nothing framed, no plugins. An
  injected <script> or on* attribute would then not run even if escaping ever failed.
- Cache-Control: private, no-store, on every page, JSON answer and export that does not set
  its own: they carry scans, results and verdicts, which must not stay in a shared proxy's
  cache or the browser's disk cache on a shared workstation. Static files are served by
  whitenoise before this middleware and keep their long cache lifetimes.

Django 5.2 has no built-in CSP (it arrives in 6.0), and the policy here is one fixed string,
so a few lines replace a dependency.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # data: for the TOTP set-up QR code (allauth), blob: for the upload page's thumbnails
        # of the files picked (URL.createObjectURL, never sent anywhere).
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
NO_STORE = "private, no-store"


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Cache-Control", NO_STORE)
        return response
