"""Study workflows the views, the API and the worker share: read, store, queue, find, delete."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import pre_delete
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from predictions.signals import retention_due, stored_files_referenced
from predictions.storage import private_storage
from studies import tasks
from studies.models import Series, Study, StudySlice
from studies.reading import Limits, StudyRead, read_study

logger = logging.getLogger(__name__)


def limits() -> Limits:
    return Limits(
        max_bytes=settings.STUDY_MAX_BYTES,
        max_files=settings.STUDY_MAX_FILES,
        max_slices=settings.STUDY_MAX_SLICES,
        max_voxels=settings.STUDY_MAX_VOXELS,
        max_pixels=settings.MAX_IMAGE_PIXELS,
    )


def read_upload(files: Iterable[object]) -> StudyRead:
    """Read the uploaded files (raises studies.reading.StudyRefused)."""
    return read_study(files, limits())


def submit_study(owner: User, study_read: StudyRead, *, case_reference: str = "") -> Study:
    """Store a read study (rows and slice PNGs) in one transaction and queue its analysis.

    All or nothing: if anything fails, the files already written are removed, so a refused
    or broken upload leaves no row and no file. Queued only after the commit.
    """
    written: list[str] = []
    try:
        with transaction.atomic():
            study = Study.objects.create(
                owner=owner,
                case_reference=case_reference.strip()[:100],
                source_format=study_read.source_format,
                file_count=study_read.file_count,
                total_bytes=study_read.total_bytes,
                file_errors=study_read.file_errors,
                slices_total=study_read.slices,
            )
            index = 0
            for read in study_read.series:
                series = Series.objects.create(
                    study=study,
                    number=read.number,
                    source_format=read.source_format,
                    modality=read.modality[:16],
                    description=read.description[:100],
                    orientation=read.orientation,
                    handling=read.handling[:120],
                    source_slices=read.source_slices,
                    spacing_mm=read.spacing_mm,
                    skipped_reason=read.skipped_reason,
                    notes=read.notes,
                    meta=read.meta,
                )
                rows = []
                for rendered in read.slices:
                    row = StudySlice(
                        study=study,
                        series=series,
                        index=index,
                        position_mm=rendered.position_mm,
                        width=rendered.width,
                        height=rendered.height,
                    )
                    row.image.save("slice.png", ContentFile(rendered.png), save=False)
                    written.append(str(row.image.name))
                    rows.append(row)
                    index += 1
                StudySlice.objects.bulk_create(rows)
            transaction.on_commit(partial(tasks.enqueue_study, study.pk))
    except BaseException:
        for name in written:
            private_storage.delete(name)
        raise
    return study


def studies_for_user(user: User) -> QuerySet[Study]:
    """The studies `user` may see: their own, or every study for a reviewer."""
    studies = Study.objects.select_related("owner")
    return studies if user.is_reviewer else studies.filter(owner=user)


def get_study_for_user(user: User, study_id: int) -> Study:
    """The study if `user` may see it, else 404 (another clinician's ids are not confirmed)."""
    if not user.is_authenticated:
        raise Http404
    study = studies_for_user(user).filter(pk=study_id).first()
    if study is None:
        raise Http404
    return study


def delete_study(user: User, study: Study) -> None:
    """Delete the study with its series, slices and every file; the owner only."""
    if study.owner_id != user.pk:
        raise PermissionDenied("Only the clinician who uploaded a study can delete it.")
    study_id = study.pk
    with transaction.atomic():
        study.delete()  # series and slices cascade; the receiver below takes their files
    logger.info("study %s deleted by its owner (user %s)", study_id, user.pk)


def purge_expired_study_images(*, days: int, now=None) -> int:
    """SCAN_RETENTION_DAYS for studies: the slice images and heatmaps of every finished study
    older than `days` go (after the commit); the study, its series and results stay, marked
    `images_purged_at`. Returns the number of studies purged."""
    now = now or timezone.now()
    expired = Study.objects.filter(
        uploaded_at__lt=now - timedelta(days=days), images_purged_at=None
    ).exclude(status__in=[Study.Status.PENDING, Study.Status.RUNNING])
    purged = 0
    for study_id in list(expired.values_list("pk", flat=True)):
        slices = StudySlice.objects.filter(study_id=study_id)
        names = [n for pair in slices.values_list("image", "heatmap") for n in pair if n]
        with transaction.atomic():
            purged += Study.objects.filter(pk=study_id, images_purged_at=None).update(
                images_purged_at=now
            )
            slices.update(image="", heatmap="")
            transaction.on_commit(partial(_delete_files, names), robust=True)
    return purged


def connect_file_cleanup() -> None:
    """Every way a slice row goes (this service, the admin, a cascade) takes its files; the
    scans' retention and orphan sweep (predictions.retention) cover the studies' files too."""
    pre_delete.connect(_slice_files_follow, sender=StudySlice, dispatch_uid="studies.slice_files")
    retention_due.connect(_purge_on_retention, dispatch_uid="studies.retention")
    stored_files_referenced.connect(_slice_file_names, dispatch_uid="studies.slice_file_names")


def _purge_on_retention(sender: object, *, days: int, now: datetime, **_: object) -> int:
    return purge_expired_study_images(days=days, now=now)


def _slice_file_names(sender: object, **_: object) -> set[str]:
    names: set[str] = set()
    for field in ("image", "heatmap"):
        names.update(StudySlice.objects.exclude(**{field: ""}).values_list(field, flat=True))
    return names


def _slice_files_follow(sender: type[StudySlice], instance: StudySlice, **_: object) -> None:
    names = [str(f.name) for f in (instance.image, instance.heatmap) if f]
    if names:
        transaction.on_commit(partial(_delete_files, names), robust=True)


def _delete_files(names: list[str]) -> None:
    for name in names:
        private_storage.delete(name)
