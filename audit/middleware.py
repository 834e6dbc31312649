"""Binds each request for the audit log, and records reads: results, images, CSV exports.

Reading changes nothing, so no signal marks it; instead the successful GET responses of the
views listed in READ_EVENTS are recorded here, without touching those views. A failed request
(404 for another clinician's scan) showed nothing, so it is not recorded as a read.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit.log import bound_request, record
from audit.models import AuditEvent

Action = AuditEvent.Action

# URL name -> (action, what the id names, detail). Keep in step with the URL names.
READ_EVENTS: dict[str, tuple[AuditEvent.Action, str, dict[str, str]]] = {
    "predictions:detail": (Action.RESULT_VIEWED, "scan", {"via": "web"}),
    "predictions:scan-image": (Action.IMAGE_DOWNLOADED, "scan", {"file": "slice", "via": "web"}),
    "predictions:overlay-image": (
        Action.IMAGE_DOWNLOADED,
        "scan",
        {"file": "overlay", "via": "web"},
    ),
    "predictions:heatmap-image": (
        Action.IMAGE_DOWNLOADED,
        "scan",
        {"file": "heatmap", "via": "web"},
    ),
    "predictions:scan-preview": (
        Action.IMAGE_DOWNLOADED,
        "scan",
        {"file": "preview", "via": "web"},
    ),
    "predictions:export": (Action.CSV_EXPORTED, "", {"kind": "own history"}),
    "predictions:reviewed-csv": (Action.CSV_EXPORTED, "", {"kind": "reviewed cases"}),
    "predictions:all-history-csv": (Action.CSV_EXPORTED, "", {"kind": "all history"}),
    "admin:predictions_prediction_change": (Action.RESULT_VIEWED, "prediction", {"via": "admin"}),
    "api:scan-detail": (Action.RESULT_VIEWED, "scan", {"via": "api"}),
    "api:scan-image": (Action.IMAGE_DOWNLOADED, "scan", {"file": "slice", "via": "api"}),
    "api:overlay-image": (Action.IMAGE_DOWNLOADED, "scan", {"file": "overlay", "via": "api"}),
    "api:heatmap-image": (Action.IMAGE_DOWNLOADED, "scan", {"file": "heatmap", "via": "api"}),
}
ID_KWARGS = ("scan_id", "object_id", "pk")


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with bound_request(request):
            response = self.get_response(request)
            if request.method == "GET" and response.status_code == 200:
                _record_read(request)
        return response


def _record_read(request: HttpRequest) -> None:
    match = request.resolver_match
    event = READ_EVENTS.get(match.view_name) if match is not None else None
    if match is None or event is None:
        return
    action, object_type, detail = event
    object_id = next((match.kwargs[name] for name in ID_KWARGS if name in match.kwargs), "")
    record(action, object_type=object_type, object_id=object_id, detail=detail, request=request)
