"""Binds each request for the audit log, and records reads: results, images, CSV exports.

Reading changes nothing, so no signal marks it; instead the successful GET responses of the
views listed in READ_EVENTS are recorded here, without touching those views. Every view that
shows one scan's data is listed, the JSON the pages poll and the admin's pages included; for
the polled JSON (OTHERS_ONLY) only reads of another person's scans are written, or a clinician's
own upload page would add a row every two seconds. Admin lists and searches are recorded by
the names of their parameters, never the values (a search may be a case reference). A refused
read of a listed view (404 for an id that is not yours, 403) is recorded as ACCESS_REFUSED:
probing for ids shows nothing, but it is worth knowing who did it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit.log import bound_request, record
from audit.models import AuditEvent
from predictions.models import Scan

Action = AuditEvent.Action

# URL name -> (action, what the id names, detail). Keep in step with the URL names.
READ_EVENTS: dict[str, tuple[AuditEvent.Action, str, dict[str, object]]] = {
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
    "predictions:status": (Action.RESULT_VIEWED, "scan", {"via": "status-json"}),
    "predictions:batch": (Action.RESULT_VIEWED, "batch", {"via": "web"}),
    "predictions:batch-status": (Action.RESULT_VIEWED, "batch", {"via": "status-json"}),
    "admin:predictions_prediction_change": (Action.RESULT_VIEWED, "prediction", {"via": "admin"}),
    "admin:predictions_scan_change": (Action.RESULT_VIEWED, "scan", {"via": "admin"}),
    "admin:predictions_prediction_changelist": (Action.LIST_VIEWED, "prediction", {"via": "admin"}),
    "admin:predictions_scan_changelist": (Action.LIST_VIEWED, "scan", {"via": "admin"}),
    "api:scan-detail": (Action.RESULT_VIEWED, "scan", {"via": "api"}),
    "api:scan-image": (Action.IMAGE_DOWNLOADED, "scan", {"file": "slice", "via": "api"}),
    "api:overlay-image": (Action.IMAGE_DOWNLOADED, "scan", {"file": "overlay", "via": "api"}),
    "api:heatmap-image": (Action.IMAGE_DOWNLOADED, "scan", {"file": "heatmap", "via": "api"}),
    "studies:detail": (Action.RESULT_VIEWED, "study", {"via": "web"}),
    "studies:status": (Action.RESULT_VIEWED, "study", {"via": "status-json"}),
    "studies:slice-image": (Action.IMAGE_DOWNLOADED, "study", {"file": "slice", "via": "web"}),
    "studies:slice-heatmap": (Action.IMAGE_DOWNLOADED, "study", {"file": "heatmap", "via": "web"}),
    "studies:slices-csv": (Action.CSV_EXPORTED, "study", {"kind": "study slices"}),
    "studies:export": (Action.CSV_EXPORTED, "", {"kind": "own studies"}),
    "api:study-detail": (Action.RESULT_VIEWED, "study", {"via": "api"}),
    "api:study-slices": (Action.RESULT_VIEWED, "study", {"via": "api", "what": "slices"}),
    "api:study-slice-image": (Action.IMAGE_DOWNLOADED, "study", {"file": "slice", "via": "api"}),
    "api:study-slice-heatmap": (
        Action.IMAGE_DOWNLOADED,
        "study",
        {"file": "heatmap", "via": "api"},
    ),
}
ID_KWARGS = ("scan_id", "study_id", "object_id", "pk", "batch")
# Polled by the pages' scripts: written only when the reader is not the scans' owner. The
# slice browser loads every slice image of a study: the owner's own loads are not written
# either (the study page view is).
OTHERS_ONLY = {
    "predictions:status",
    "predictions:batch-status",
    "studies:status",
    "studies:slice-image",
    "studies:slice-heatmap",
}
REFUSED = (403, 404)


class AuditMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with bound_request(request):
            response = self.get_response(request)
            if request.method == "GET" and response.status_code == 200:
                _record_read(request)
            elif request.method == "GET" and response.status_code in REFUSED:
                _record_refusal(request, response.status_code)
        return response


def _record_read(request: HttpRequest) -> None:
    match = request.resolver_match
    event = READ_EVENTS.get(match.view_name) if match is not None else None
    if match is None or event is None:
        return
    action, object_type, detail = event
    object_id = _object_id(match.kwargs)
    if match.view_name in OTHERS_ONLY and _own_scans(request, object_type, object_id):
        return
    if action == Action.LIST_VIEWED:
        detail = {**detail, "params": sorted(request.GET)}  # names only, never the values
    record(action, object_type=object_type, object_id=object_id, detail=detail, request=request)


def _record_refusal(request: HttpRequest, status: int) -> None:
    match = request.resolver_match
    if match is None or match.view_name not in READ_EVENTS or not _request_user(request):
        return
    _action, object_type, detail = READ_EVENTS[match.view_name]
    detail = {**detail, "status": status, "view": match.view_name}
    record(
        Action.ACCESS_REFUSED,
        object_type=object_type,
        object_id=_object_id(match.kwargs),
        detail=detail,
        request=request,
    )


def _object_id(kwargs: dict[str, object]) -> object:
    return next((kwargs[name] for name in ID_KWARGS if name in kwargs), "")


def _request_user(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


def _own_scans(request: HttpRequest, object_type: str, object_id: object) -> bool:
    """Whether every scan the polled JSON showed belongs to the reader."""
    if object_type == "study":
        from studies.models import Study

        return Study.objects.filter(
            pk=str(object_id), owner_id=getattr(request.user, "pk", None)
        ).exists()
    # The URL's id (a UUID or an int) as text: what both lookups accept.
    scans = Scan.objects.filter(batch=str(object_id)) if object_type == "batch" else None
    if scans is None:
        scans = Scan.objects.filter(pk=str(object_id))
    return not scans.exclude(owner_id=getattr(request.user, "pk", None)).exists()
