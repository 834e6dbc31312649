"""Retention: a clinician deletes a scan; images older than the retention period go; files no
row refers to go.

Both remove files only once the database change is committed (`transaction.on_commit`): a
rolled-back deletion keeps its images, and a committed one leaves no file behind. Deleting a
row takes its files through the `pre_delete` receivers of predictions.files, whatever deletes
it. The audit app records a deletion from the `post_delete` signal with ids only, never the
image.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from predictions.files import delete_after_commit, stored_file_names
from predictions.models import Prediction, Scan
from predictions.signals import retention_due, stored_files_referenced

logger = logging.getLogger(__name__)
PURGE_CHUNK = 500
ORPHAN_FOLDERS = ("scans", "results", "studies")  # where uploads and analyses write (models)
ORPHAN_GRACE = timedelta(hours=1)


def delete_scan(user: User, scan: Scan) -> None:
    """Delete `scan`, its result and its image, overlay and heatmap files.

    Only the owner may: a reviewer sees every scan but must not erase a colleague's record.
    Callers fetch `scan` through `get_scan_for_user` first, so others get a 404 before this.
    """
    if scan.owner_id != user.pk:
        raise PermissionDenied("Only the clinician who uploaded a scan can delete it.")
    scan_id = scan.pk
    with transaction.atomic():
        scan.delete()  # the prediction goes with it (CASCADE); the receivers below take the files
    logger.info("scan %s deleted by its owner (user %s)", scan_id, user.pk)


def purge_expired_images(*, days: int | None = None, now: datetime | None = None) -> int:
    """Delete the image, overlay and heatmap of every finished scan older than `days`.

    The rows stay, marked `image_purged_at`, so statistics and reviews still count them.
    Unfinished scans wait: a worker may be reading the image. Studies follow the same rule
    (studies.services.purge_expired_study_images). Returns the number of scans and studies purged.
    """
    days = settings.SCAN_RETENTION_DAYS if days is None else days
    if days <= 0:
        return 0
    now = now or timezone.now()
    expired = (
        Scan.objects.filter(uploaded_at__lt=now - timedelta(days=days), image_purged_at=None)
        .exclude(prediction__status__in=[Prediction.Status.PENDING, Prediction.Status.RUNNING])
        .select_related("prediction")
        .order_by("pk")
    )
    purged = 0
    while chunk := list(expired[:PURGE_CHUNK]):
        purged += _purge(chunk, now)
    if purged:
        logger.info("retention: purged the images of %d scan(s) older than %d days", purged, days)
    # Studies follow the same rule; studies builds on predictions, so it answers a signal.
    studies = sum(cast(int, n) for _, n in retention_due.send(sender=Scan, days=days, now=now))
    if studies:
        logger.info(
            "retention: purged the images of %d stud(ies) older than %d days", studies, days
        )
    return purged + studies


def purge_orphan_files(*, older_than: timedelta = ORPHAN_GRACE, now: datetime | None = None) -> int:
    """Delete files in private storage that no row points to any more.

    They come from a worker killed between writing a heatmap and recording it, or a file
    deletion that failed after its commit. Files younger than `older_than` are left alone:
    an upload or an analysis may be about to record them.
    """
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    if not root.is_dir():
        return 0
    referenced = _referenced_names()
    cutoff = (now or timezone.now()).timestamp() - older_than.total_seconds()
    removed = 0
    for folder in ORPHAN_FOLDERS:
        for path in (root / folder).rglob("*"):
            name = path.relative_to(root).as_posix()
            if path.is_file() and name not in referenced and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
    if removed:
        logger.warning("removed %d orphan file(s) from private storage", removed)
    return removed


def _referenced_names() -> set[str]:
    names = set(Scan.objects.exclude(image="").values_list("image", flat=True))
    for field in ("heatmap", "overlay"):
        names.update(Prediction.objects.exclude(**{field: ""}).values_list(field, flat=True))
    for _, more in stored_files_referenced.send(sender=Scan):  # the studies' slice files
        names.update(cast(set[str], more))
    return names


def _purge(scans: list[Scan], now: datetime) -> int:
    ids = [scan.pk for scan in scans]
    names = [name for scan in scans for name in stored_file_names(scan)]
    with transaction.atomic():
        count = Scan.objects.filter(pk__in=ids, image_purged_at=None).update(
            image="", image_purged_at=now
        )
        Prediction.objects.filter(scan_id__in=ids).update(heatmap="", overlay="")
        delete_after_commit(names)
    return count
