"""A rate limit per API token, counted in the shared cache (Redis in production)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from api.models import ApiToken
from brainscan.clientip import client_ip


class ClientAddressMixin:
    """DRF's own get_ident reads REST_FRAMEWORK["NUM_PROXIES"]; ours reads the one setting
    every other client-address consumer reads (brainscan.clientip), for any throttle by IP."""

    def get_ident(self, request: Request) -> str:
        return client_ip(request) or "unknown"


class TokenRateThrottle(ClientAddressMixin, SimpleRateThrottle):
    scope = "token"

    def get_rate(self) -> str:
        # DRF builds a throttle per request, so the setting is read each time (tests change it).
        return settings.API_RATE_LIMIT

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None  # unauthenticated requests are refused before they cost anything
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
