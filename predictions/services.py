"""Workflows that views, tasks and commands share."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import User
from predictions.models import Prediction, Scan
from predictions.privacy import delete_scan as delete_scan
from predictions.privacy import purge_expired_images as purge_expired_images
from predictions.privacy import purge_orphan_files as purge_orphan_files
from predictions.storage import private_storage
from predictions.validation import ValidatedUpload

logger = logging.getLogger(__name__)


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


def enqueue_prediction(prediction_id: int) -> bool:
    """Send the task; if the broker is down the row stays PENDING for the recovery sweep."""
    from predictions.tasks import run_prediction

    try:
        run_prediction.delay(prediction_id)
    except Exception as exc:  # kombu raises several types for an unreachable broker
        logger.warning(
            "prediction %s: could not reach the task queue (%s); the recovery sweep will queue it",
            prediction_id,
            type(exc).__name__,
        )
        return False
    return True


def enqueue_predictions(prediction_ids: list[int]) -> int:
    """Send the tasks in order; stop at the first broker failure and return how many were sent.

    Each failed send waits out the broker timeouts, so an upload of a hundred files while Redis
    hangs would otherwise wait a hundred times; the rest stay PENDING for the recovery sweep.
    """
    for sent, prediction_id in enumerate(prediction_ids):
        if not enqueue_prediction(prediction_id):
            return sent
    return len(prediction_ids)


def requeue_stuck_predictions(*, pending_after: timedelta | None = None) -> int:
    """Queue again every prediction whose message may have been lost.

    The database is the source of truth: a PENDING row older than `pending_after` (the broker
    lost it, or it was never sent) or a RUNNING row past the stale limit (its worker died) is
    sent again. `Prediction.claim` makes any duplicate delivery harmless.
    """
    now = timezone.now()
    if pending_after is None:
        pending_after = timedelta(seconds=settings.PREDICTION_REQUEUE_PENDING_AFTER_SECONDS)
    stale = timedelta(seconds=settings.PREDICTION_STALE_AFTER_SECONDS)
    stuck = Prediction.objects.filter(
        Q(status=Prediction.Status.PENDING, created_at__lte=now - pending_after)
        | Q(status=Prediction.Status.RUNNING, started_at__lt=now - stale)
    ).values_list("pk", flat=True)
    ids = list(stuck)
    sent = enqueue_predictions(ids)
    if ids:
        logger.info("recovery sweep queued %d of %d stuck prediction(s) again", sent, len(ids))
    return sent
