"""A study: one upload of whole series (DICOM files, a zip, a NIfTI volume), analysed as one.

Stored under our own ids only: no UID, date, name or free text from any header. A study has
series (each either analysed or skipped, with why) and the slices the model reads (axial,
ordered along the head), each with its result. The study's own result comes from the
study rule over its slices (ml.study).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from predictions.models import AnalysisJob, Label, Risk
from predictions.storage import private_storage


class Study(AnalysisJob):
    """Its status, claim, release and outcome are a prediction's (AnalysisJob)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="studies"
    )
    case_reference = models.CharField(max_length=100, blank=True)
    uploaded_at = models.DateTimeField(default=timezone.now, db_index=True)
    source_format = models.CharField(max_length=16)  # DICOM, NIfTI, DICOM+NIfTI
    file_count = models.PositiveIntegerField(default=0)
    total_bytes = models.PositiveBigIntegerField(default=0)
    # Files that could not be read, by their number in the upload: [{"file": "3", "error": ...}]
    file_errors = models.JSONField(default=list, blank=True)

    slices_total = models.PositiveIntegerField(default=0)
    slices_analysed = models.PositiveIntegerField(default=0)

    label = models.CharField(max_length=12, choices=Label.choices, blank=True, db_index=True)
    tumour_probability = models.FloatField(null=True, blank=True)
    risk = models.CharField(max_length=6, choices=Risk.choices, blank=True, db_index=True)
    driving_slices = models.JSONField(default=list, blank=True)  # indices the score comes from
    flagged_slices = models.JSONField(default=list, blank=True)  # indices at >= medium
    rule = models.JSONField(default=dict, blank=True)  # k, thresholds, calibrated, description
    model_version = models.CharField(max_length=64, blank=True, db_index=True)
    model_sha256 = models.CharField(max_length=64, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    # SCAN_RETENTION_DAYS: the slice images and heatmaps were deleted; the results stay.
    images_purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-uploaded_at", "-id")
        indexes = [models.Index(fields=["owner", "-uploaded_at"], name="study_owner_recent")]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return f"Study {self.pk} ({self.status})"

    def heartbeat(self) -> None:
        """A long study renews its claim after every batch, so it is not taken for dead."""
        Study.objects.filter(pk=self.pk, status=self.Status.RUNNING).update(
            started_at=timezone.now(),
            slices_analysed=StudySlice.objects.filter(study=self)
            .exclude(status=StudySlice.Status.PENDING)
            .count(),
        )

    def finish(self, **fields: Any) -> bool:
        """AnalysisJob.finish, and the first (only) time it writes, `study_finished` is sent
        (pacs sends the results back on it). mark_failed goes through here too."""
        from studies.signals import study_finished

        finished = super().finish(**fields)
        if finished:
            study_finished.send(sender=Study, study=self)
        return finished


class Series(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    number = models.PositiveSmallIntegerField()  # 1, 2, ... in the order of the upload
    source_format = models.CharField(max_length=8)  # DICOM or NIfTI
    modality = models.CharField(max_length=16, blank=True)
    description = models.CharField(max_length=100, blank=True)  # MR vocabulary words only
    orientation = models.CharField(max_length=16, blank=True)
    handling = models.CharField(max_length=120, blank=True)  # how its slices were made
    source_slices = models.PositiveIntegerField(default=0)
    spacing_mm = models.FloatField(null=True, blank=True)
    skipped_reason = models.TextField(blank=True)
    notes = models.JSONField(default=list, blank=True)
    meta = models.JSONField(default=dict, blank=True)  # allow-listed technical tags

    class Meta:
        ordering = ("study", "number")
        constraints = [
            models.UniqueConstraint(fields=["study", "number"], name="series_number_unique")
        ]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return f"Series {self.number} of study {self.study_id}"


def slice_upload_to(instance: StudySlice, filename: str) -> str:
    import uuid

    return f"studies/{instance.study.owner_id}/{uuid.uuid4().hex}-{filename}"


class StudySlice(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        DONE = "done", "Done"
        REJECTED = "rejected", "Rejected"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="slices")
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="slices")
    index = models.PositiveIntegerField()  # 0, 1, ... along the study: series, then position
    position_mm = models.FloatField()  # along the slice normal (z for reformatted slices)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    image = models.FileField(
        storage=private_storage, upload_to=slice_upload_to, blank=True, max_length=200
    )
    heatmap = models.FileField(
        storage=private_storage, upload_to=slice_upload_to, blank=True, max_length=200
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    label = models.CharField(max_length=12, choices=Label.choices, blank=True)
    probabilities = models.JSONField(default=dict, blank=True)
    tumour_probability = models.FloatField(null=True, blank=True)
    risk = models.CharField(max_length=6, choices=Risk.choices, blank=True)
    gate_score = models.FloatField(null=True, blank=True)
    gate_reason = models.CharField(max_length=300, blank=True)
    unfamiliar = models.BooleanField(default=False)
    heatmap_class = models.CharField(max_length=12, blank=True)

    class Meta:
        ordering = ("study", "index")
        constraints = [
            models.UniqueConstraint(fields=["study", "index"], name="study_slice_index_unique")
        ]

    def __str__(self) -> str:
        return f"Slice {self.index} of study {self.study_id}"
