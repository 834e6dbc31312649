"""Workflows that views, the API and commands share: who sees which scan, and submitting
uploads. Tasks sit below: services queue work through predictions.tasks, never the reverse."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from functools import partial

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import User
from predictions.models import Prediction, Scan
from predictions.storage import private_storage
from predictions.tasks import enqueue_predictions
from predictions.uploads import ValidatedUpload


def scans_for_user(user: User) -> QuerySet[Scan]:
    """The scans `user` may see: their own, or every scan for a reviewer."""
    scans = Scan.objects.select_related("prediction", "owner")
    if user.is_reviewer:
        return scans
    return scans.filter(owner=user)


def get_scan_for_user(user: User, scan_id: int) -> Scan:
    """Return the scan if `user` may see it, else raise Http404.

    404 rather than 403, so another clinician's scan ids are not confirmed to exist.
    """
    if not user.is_authenticated:
        raise Http404
    return get_object_or_404(scans_for_user(user), pk=scan_id)


def submit_scans(
    owner: User,
    uploads: Iterable[ValidatedUpload],
    *,
    case_reference: str = "",
    batch: uuid.UUID | None = None,
) -> list[Prediction]:
    """Store validated uploads as one batch and queue them for analysis.

    All or nothing: the rows are written in one transaction, and if anything fails the
    files already written are removed, so no orphan file or row is left. The tasks are
    queued only after the commit, so a worker never looks for a row that is not there yet.
    Pass `batch` to add to a batch that earlier requests started (the upload page sends one
    file per request so each gets its own progress bar and error message).
    """
    batch = batch or uuid.uuid4()
    written: list[str] = []
    try:
        with transaction.atomic():
            predictions = [
                _create_scan(owner, upload, batch, case_reference, written) for upload in uploads
            ]
            transaction.on_commit(partial(enqueue_predictions, [p.pk for p in predictions]))
    except BaseException:
        for name in written:
            private_storage.delete(name)
        raise
    return predictions


def _create_scan(
    owner: User, upload: ValidatedUpload, batch: uuid.UUID, case_reference: str, written: list[str]
) -> Prediction:
    scan = Scan(
        owner=owner,
        batch=batch,
        case_reference=case_reference.strip(),
        sha256=upload.sha256,
        source_format=upload.source_format,
        content_type=upload.content_type,
        width=upload.width,
        height=upload.height,
        file_size=len(upload.data),
        dicom_meta=upload.dicom_meta,
        frame_index=upload.frame_index,
        upload_position=upload.position,
    )
    scan.image.save(f"scan.{upload.extension}", ContentFile(upload.data), save=False)
    if scan.image.name:  # always, once saved
        written.append(scan.image.name)
    scan.save()
    return Prediction.objects.create(scan=scan)


def earlier_upload(
    owner: User, sha256s: Iterable[str], *, before: int | None = None
) -> Scan | None:
    """The first scan `owner` made of the same file (the same SHA-256), or None.

    Only the owner's own scans: a clinician must never learn that someone else uploaded a file.
    `before` limits it to scans older than that scan id (a scan is not its own duplicate).
    """
    scans = Scan.objects.filter(owner=owner, sha256__in=list(sha256s))
    if before is not None:
        scans = scans.filter(pk__lt=before)
    return scans.order_by("pk").first()
