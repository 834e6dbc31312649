"""The site's URLs plus views that fail, for brainscan/tests/test_debug_pages.py."""

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret detail of a failing view")


def suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("secret detail of a suspicious request")


def json_404(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"detail": "Not found."}, status=404)


urlpatterns = [
    path("test-boom/", boom),
    path("test-suspicious/", suspicious),
    path("test-json-404/", json_404),
    path("", include("brainscan.urls")),
]
