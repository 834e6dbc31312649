"""Writing audit events: `record()` fills in who and from where from the current request.

The request is bound by `AuditMiddleware` in a context variable, so signal receivers (a scan
saved, a token revoked) can tell which person and address caused them without every view
passing the request along. Outside a request (a management command, a worker) the event has
no address and only the actor it is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import models
from django.http import HttpRequest

from accounts.models import User
from audit.models import AuditEvent
from brainscan.clientip import client_ip

_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


@contextmanager
def bound_request(request: HttpRequest) -> Iterator[None]:
    token = _request.set(request)
    try:
        yield
    finally:
        _request.reset(token)


def current_request() -> HttpRequest | None:
    return _request.get()


def _request_user(request: HttpRequest | None) -> User | None:
    user = getattr(request, "user", None) if request is not None else None
    return user if user is not None and user.is_authenticated else None


def record(
    action: AuditEvent.Action,
    *,
    actor: User | None = None,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: object = "",
    detail: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one event. `actor` defaults to the signed-in user of the current request;
    `ip` is for events with no request (a DICOM peer's address)."""
    request = request or current_request()
    actor = actor or _request_user(request)
    if target is not None:
        object_type, object_id = target._meta.model_name or "", target.pk
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_email=actor.email if actor else "",
        object_type=object_type,
        object_id=str(object_id),
        ip=client_ip(request) if request is not None else ip,
        detail=detail or {},
    )
