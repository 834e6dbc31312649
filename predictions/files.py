"""The files of scans and results: private responses, and their clean-up when a row goes.

Stored scans and Grad-CAM images have no public URL (predictions.storage); the web views and
the REST API serve them through `private_file_response`, so both send the same headers.
Every way a row can go (retention, the admin, a cascade, the shell) takes its files along:
`pre_delete` receivers queue the deletion for after the commit, so a rolled-back deletion
keeps its images and a committed one leaves no file behind.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.db.models.signals import pre_delete
from django.http import FileResponse, Http404

from predictions.models import Prediction, Scan
from predictions.storage import private_storage


def private_file_response(field: FieldFile, content_type: str, filename: str) -> FileResponse:
    """The stored file, inline, never cached, never sniffed or run as a document; else 404."""
    if not field:
        raise Http404
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=content_type, filename=filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def stored_file_names(scan: Scan) -> list[str]:
    """Names in private storage that belong to `scan`: its slice and its result images."""
    prediction = getattr(scan, "prediction", None)
    fields = [scan.image] + ([prediction.heatmap, prediction.overlay] if prediction else [])
    return [field.name for field in fields if field and field.name]


def delete_after_commit(names: list[str]) -> None:
    """Remove these files from private storage once the current transaction commits."""
    if names:
        transaction.on_commit(partial(delete_files, names), robust=True)


def delete_files(names: list[str]) -> None:
    for name in names:
        private_storage.delete(name)  # a file already gone is fine


def connect_file_cleanup() -> None:
    """Called from PredictionsConfig.ready()."""
    pre_delete.connect(_scan_file_follows, sender=Scan, dispatch_uid="predictions.scan_file")
    pre_delete.connect(
        _result_files_follow, sender=Prediction, dispatch_uid="predictions.result_files"
    )


def _scan_file_follows(sender: type[Scan], instance: Scan, **_: object) -> None:
    delete_after_commit([instance.image.name] if instance.image.name else [])


def _result_files_follow(sender: type[Prediction], instance: Prediction, **_: object) -> None:
    delete_after_commit([f.name for f in (instance.heatmap, instance.overlay) if f.name])
