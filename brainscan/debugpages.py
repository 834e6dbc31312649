"""Django's debug pages only for a client on this machine.

DEBUG is off by default, in the embedded default too. A developer who sets DEBUG=True and
also binds `make run` to another address (HOST=0.0.0.0:8000) would show tracebacks,
settings and the URL list to every machine that can reach it. With this middleware (the
first in MIDDLEWARE) a client whose address is not loopback gets the site's own pages
instead, whatever DEBUG says:

- a server error (and a 400 that Django turns into a debug page under DEBUG, such as a bad
  Host header) goes through `PublicErrorReporter`, set as the request's
  `exception_reporter_class`, which Django's `technical_500_response` uses: it answers
  500.html (or the 400 page). Logging, `got_request_exception` and admin mails are Django's
  as usual (the mail handler has its own reporter class).
- a 404 HTML page (under DEBUG, every 404 from Http404 or an unknown URL is the debug page)
  is answered with 404.html. JSON and other non-HTML 404s (the API's) are left as they are.

403 and CSRF-failure pages are the site's own under DEBUG too (Django uses handler403 and
CSRF_FAILURE_TEMPLATE_NAME whatever DEBUG says). The address is `client_ip` (NUM_PROXIES).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.safestring import SafeString, mark_safe
from django.views import debug, defaults

from brainscan.clientip import client_ip


def is_local(request: HttpRequest) -> bool:
    """True when the client is on this machine (a loopback address, also IPv4-mapped)."""
    address = client_ip(request)
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


class PublicErrorReporter(debug.ExceptionReporter):
    """What a client elsewhere sees of an error under DEBUG: the site's page, no traceback."""

    def _bad_request(self) -> bool:
        return isinstance(self.exc_value, SuspiciousOperation | BadRequest)

    def get_traceback_html(self) -> SafeString:
        exc, request = self.exc_value, self.request
        if request is not None and isinstance(exc, SuspiciousOperation | BadRequest):
            page: HttpResponse = defaults.bad_request(request, exc)
        else:  # 500.html needs no request (nor context)
            page = defaults.server_error(request)  # type: ignore[arg-type]
        return mark_safe(page.content.decode())  # noqa: S308 - the site's own template

    def get_traceback_text(self) -> SafeString:
        return mark_safe("Bad Request (400)" if self._bad_request() else "Server Error (500)")  # noqa: S308


class LocalDebugPagesMiddleware:
    """Under DEBUG, Django's debug pages for loopback clients only (see the module)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not settings.DEBUG or is_local(request):
            return self.get_response(request)
        request.exception_reporter_class = PublicErrorReporter
        response = self.get_response(request)
        html = response.get("Content-Type", "").startswith("text/html")
        if response.status_code == 404 and html and not response.streaming:
            # The body only: the headers (CSP, no-store, ...) and cookies stay the middleware's.
            response.content = defaults.page_not_found(request, Http404()).content
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response
