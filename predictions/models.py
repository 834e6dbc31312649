from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from predictions.storage import private_storage

if TYPE_CHECKING:
    from ml.serving.engine import Analysis


class Label(models.TextChoices):
    GLIOMA = "glioma", "Glioma"
    MENINGIOMA = "meningioma", "Meningioma"
    NOTUMOR = "notumor", "No tumour"
    PITUITARY = "pituitary", "Pituitary tumour"


# The classes in the model's order (the model card's and every CSV's p_<class> columns).
CLASSES: list[str] = list(Label.values)


class Risk(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class AnalysisJob(models.Model):
    """What a scan's prediction and a whole study (studies.Study) share: a status that one
    worker claims with one conditional UPDATE, a cap on attempts, and an outcome written only
    while the row is still running, so a duplicate message never runs or overwrites anything."""

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Analysing"
        DONE = "done", "Done"
        REJECTED = "rejected", "Rejected"  # the input gate refused it (a study: every slice)
        FAILED = "failed", "Failed"

    FINISHED = (Status.DONE, Status.REJECTED, Status.FAILED)

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    def claim(self, *, stale_after: timedelta, max_attempts: int) -> bool:
        """Take this row for one worker with one conditional UPDATE.

        Succeeds for a PENDING row, or a RUNNING row whose worker died (claimed longer ago
        than `stale_after`). A row that has used up `max_attempts` is marked failed instead,
        so an input that kills its worker cannot loop forever.
        """
        now = timezone.now()
        claimable = Q(status=self.Status.PENDING) | Q(
            status=self.Status.RUNNING, started_at__lt=now - stale_after
        )
        rows = type(self)._default_manager.filter(claimable, pk=self.pk)
        claimed = rows.filter(attempts__lt=max_attempts).update(
            status=self.Status.RUNNING, started_at=now, attempts=F("attempts") + 1
        )
        if not claimed:  # finished, taken by a live worker, or out of attempts
            rows.filter(attempts__gte=max_attempts).update(
                status=self.Status.FAILED,
                finished_at=now,
                error=f"Analysis stopped after {max_attempts} attempts that did not finish.",
            )
        self._reload()
        return claimed == 1

    def _reload(self) -> None:
        """Refresh from the row, if it still exists: a clinician may delete it mid-analysis."""
        with contextlib.suppress(ObjectDoesNotExist):
            self.refresh_from_db()

    def release(self) -> None:
        """Give a claimed row back to the queue (for a retry after a transient error)."""
        type(self)._default_manager.filter(pk=self.pk, status=self.Status.RUNNING).update(
            status=self.Status.PENDING, started_at=None
        )

    def finish(self, **fields: Any) -> bool:
        """Write the outcome only if this row is still running: a duplicate never overwrites."""
        fields.setdefault("finished_at", timezone.now())
        rows = type(self)._default_manager.filter(pk=self.pk, status=self.Status.RUNNING)
        updated = rows.update(**fields)
        self._reload()
        return updated == 1

    def mark_failed(self, error: str) -> bool:
        return self.finish(status=self.Status.FAILED, error=error[:2000])


def scan_upload_to(scan: Scan, filename: str) -> str:
    """A random name per scan: uploaded file names can carry a patient's name."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"scans/{scan.owner_id}/{uuid.uuid4().hex}.{extension}"


def result_upload_to(prediction: Prediction, filename: str) -> str:
    return f"results/{prediction.scan.owner_id}/{uuid.uuid4().hex}-{filename}"


class Scan(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="scans"
    )
    batch = models.UUIDField(default=uuid.uuid4, db_index=True, editable=False)
    case_reference = models.CharField(max_length=100, blank=True)
    image = models.FileField(
        storage=private_storage, upload_to=scan_upload_to, blank=True, max_length=200
    )
    sha256 = models.CharField(max_length=64, db_index=True)
    source_format = models.CharField(max_length=16)  # JPEG, PNG, WEBP, TIFF, DICOM
    content_type = models.CharField(max_length=50)  # of the stored file
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    file_size = models.PositiveIntegerField()
    # De-identified technical DICOM tags only (an allow-list); never the header itself.
    dicom_meta = models.JSONField(default=dict, blank=True)
    frame_index = models.PositiveIntegerField(null=True, blank=True)
    # The file's place in its upload (1, 2, ...) in the order the clinician chose the files;
    # the frames of a multi-frame DICOM file share it. None for scans from before it existed.
    upload_position = models.PositiveIntegerField(null=True, blank=True)
    uploaded_at = models.DateTimeField(default=timezone.now, db_index=True)
    image_purged_at = models.DateTimeField(null=True, blank=True)
    # Not a field: the history page sets it (views.scans._mark_earlier_uploads).
    earlier: Scan | None

    class Meta:
        ordering = ("-uploaded_at", "-id")
        indexes = [models.Index(fields=["owner", "-uploaded_at"], name="scan_owner_recent")]
        permissions = [
            ("analyze_scan", "Can upload scans for analysis"),
            ("review_scan", "Can review every clinician's scans"),
        ]

    def __str__(self) -> str:
        return f"Scan {self.pk}"

    @property
    def upload_order(self) -> str:
        """ "3" for the third file of its upload, "3.2" for the second frame of a multi-frame
        third file; "" when unknown."""
        if self.upload_position is None:
            return ""
        if self.frame_index is None:
            return str(self.upload_position)
        return f"{self.upload_position}.{self.frame_index + 1}"


class Prediction(AnalysisJob):
    class Verdict(models.TextChoices):
        AGREE = "agree", "Agrees with the AI"
        CORRECTED = "corrected", "Corrected"

    scan = models.OneToOneField(Scan, on_delete=models.CASCADE, related_name="prediction")
    # Copies of the scan's owner and upload time, which never change once a scan exists:
    # the history's counts and pages then read one narrow index of this table instead of
    # joining every scan (history.py). Filled from the scan by save(); bulk inserts set them.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    uploaded_at = models.DateTimeField(editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    label = models.CharField(max_length=12, choices=Label.choices, blank=True, db_index=True)
    confidence = models.FloatField(null=True, blank=True)
    probabilities = models.JSONField(default=dict, blank=True)
    tumour_probability = models.FloatField(null=True, blank=True)
    risk = models.CharField(max_length=6, choices=Risk.choices, blank=True, db_index=True)
    gate_accepted = models.BooleanField(null=True, blank=True)
    gate_score = models.FloatField(null=True, blank=True)
    heatmap_inside_brain = models.FloatField(null=True, blank=True)
    # The model's features were farther from its validated slices than the gate's lower
    # ("unfamiliar") limit: analysed, but the result is less reliable.
    unfamiliar = models.BooleanField(default=False)
    heatmap_class = models.CharField(max_length=12, blank=True)
    model_version = models.CharField(max_length=64, blank=True, db_index=True)
    model_sha256 = models.CharField(max_length=64, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    heatmap = models.FileField(
        storage=private_storage, upload_to=result_upload_to, blank=True, max_length=200
    )
    overlay = models.FileField(
        storage=private_storage, upload_to=result_upload_to, blank=True, max_length=200
    )

    review_verdict = models.CharField(
        max_length=10, choices=Verdict.choices, blank=True, db_index=True
    )
    review_label = models.CharField(max_length=12, choices=Label.choices, blank=True)
    review_note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # A blind read (a reviewer's option, User.blind_read): the class the reviewer saw before
    # the AI's answer was shown, beside the verdict given after it, so agreement can be
    # measured both ways (monitoring.ModelInUse).
    first_impression = models.CharField(max_length=12, choices=Label.choices, blank=True)
    first_impression_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_impression_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            # Covers every count of the history (history.history_counts): grouped by class
            # and risk, narrowed by status, review and dates, without reading a row.
            models.Index(
                fields=["owner", "label", "risk", "status", "review_verdict", "uploaded_at"],
                name="prediction_history_counts",
            ),
            # The history's pages: newest first, ids only (history.history_page).
            models.Index(fields=["owner", "uploaded_at", "scan"], name="prediction_owner_recent"),
            # "Reviewed since your last visit" (reviews.reviewed_since_last_visit): a range of
            # one clinician's review times, without reading their unreviewed rows.
            models.Index(fields=["owner", "reviewed_at"], name="prediction_owner_reviewed"),
        ]

    def __str__(self) -> str:
        return f"Prediction {self.pk} ({self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.owner_id is None or self.uploaded_at is None:
            self.owner_id = self.scan.owner_id
            self.uploaded_at = self.scan.uploaded_at
        super().save(*args, **kwargs)

    @property
    def true_label(self) -> str:
        """The reviewer's class: the AI's when they agreed, their correction otherwise."""
        if self.review_verdict == self.Verdict.AGREE:
            return self.label
        return self.review_label

    def mark_rejected(self, analysis: Analysis) -> bool:
        return self.finish(
            status=self.Status.REJECTED,
            error=analysis.gate_reason,
            gate_accepted=False,
            gate_score=analysis.gate_score,
            model_version=analysis.model_version,
            model_sha256=analysis.model_sha256,
            timings=analysis.timings_ms,
        )

    def mark_done(self, analysis: Analysis, *, heatmap_name: str, overlay_name: str) -> bool:
        return self.finish(
            status=self.Status.DONE,
            error="",
            label=analysis.label,
            confidence=analysis.confidence,
            probabilities=analysis.probabilities,
            tumour_probability=analysis.tumour_probability,
            risk=analysis.risk,
            gate_accepted=True,
            gate_score=analysis.gate_score,
            heatmap_inside_brain=analysis.heatmap_inside_brain,
            unfamiliar=bool(getattr(analysis, "unfamiliar", False)),
            heatmap_class=getattr(analysis, "heatmap_class", None) or "",
            model_version=analysis.model_version,
            model_sha256=analysis.model_sha256,
            timings=analysis.timings_ms,
            heatmap=heatmap_name,
            overlay=overlay_name,
        )
