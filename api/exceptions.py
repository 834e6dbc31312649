"""Every API error is JSON: {"error": <code>, "detail": <message>, ...}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is too large."
    default_code = "too_large"


class BadImage(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The image could not be read."
    default_code = "bad_image"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's 500 handling (and logging) applies
    if isinstance(exc, exceptions.APIException):
        response.data = _body(exc)
    return response


def _body(exc: exceptions.APIException) -> dict[str, Any]:
    codes = exc.get_codes()
    if isinstance(exc.detail, dict):
        # Field errors: a readable summary first, every message by field after it.
        first_field, messages = next(iter(exc.detail.items()))
        first = messages[0] if isinstance(messages, list) else messages
        prefix = "" if first_field == "non_field_errors" else f"{first_field}: "
        return {"error": "invalid", "detail": f"{prefix}{first}", "fields": exc.detail}
    if isinstance(exc.detail, list):
        return {"error": "invalid", "detail": " ".join(str(item) for item in exc.detail)}
    code = codes if isinstance(codes, str) else "error"
    body: dict[str, Any] = {"error": code, "detail": str(exc.detail)}
    # DRF sets Throttled.wait (seconds or None); its stubs leave the attribute out.
    wait = exc.wait if isinstance(exc, exceptions.Throttled) else None  # type: ignore[attr-defined]
    if wait is not None:
        body["retry_after_seconds"] = int(wait + 0.999)
    return body
