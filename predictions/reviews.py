"""Reviewers' verdicts on AI results, and what they say about the model in use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from accounts.models import User
from predictions.models import Label, Prediction
from predictions.signals import review_recorded

CLASSES: list[str] = list(Label.values)
TUMOUR_CLASSES = {Label.GLIOMA, Label.MENINGIOMA, Label.PITUITARY}


class ReviewError(ValueError):
    """A verdict that does not make sense; the message is shown to the reviewer."""


def check_verdict(prediction: Prediction, verdict: str, label: str) -> str:
    """Return the reviewer's label to store ('' for agree), or raise ReviewError."""
    if prediction.status != Prediction.Status.DONE:
        raise ReviewError("Only finished analyses with a predicted class can be reviewed.")
    if verdict == Prediction.Verdict.AGREE:
        if label and label != prediction.label:
            raise ReviewError("You chose another class: record the verdict as 'Corrected'.")
        return ""
    if verdict == Prediction.Verdict.CORRECTED:
        if not label:
            raise ReviewError("A correction needs the class you found.")
        if label == prediction.label:
            raise ReviewError("That is the AI's own class: record the verdict as 'Agrees'.")
        return label
    raise ReviewError("Choose a verdict: agree, or corrected with the right class.")


def check_reviewer(prediction: Prediction, reviewer: User) -> None:
    """A reviewer never judges their own scan: the second look must be someone else's.

    A clinician who is also a reviewer could record "agrees" on their own upload; this check
    sits in record_review, which every path that stores a verdict goes through.
    """
    if reviewer.pk is not None and prediction.scan.owner_id == reviewer.pk:
        raise ReviewError("This is your own scan: another reviewer must record the verdict.")


@transaction.atomic
def record_review(
    prediction: Prediction, reviewer: User, *, verdict: str, label: str = "", note: str = ""
) -> Prediction:
    """Store a verdict with who gave it and when. Only the review fields are written."""
    check_reviewer(prediction, reviewer)
    prediction.review_label = check_verdict(prediction, verdict, label)
    prediction.review_verdict = verdict
    prediction.review_note = note.strip()
    prediction.reviewed_by = reviewer
    prediction.reviewed_at = timezone.now()
    prediction.save(
        update_fields=[
            "review_verdict",
            "review_label",
            "review_note",
            "reviewed_by",
            "reviewed_at",
        ]
    )
    review_recorded.send(sender=Prediction, prediction=prediction, reviewer=reviewer)
    return prediction


def reviewed(predictions: QuerySet[Prediction] | None = None) -> QuerySet[Prediction]:
    predictions = predictions if predictions is not None else Prediction.objects.all()
    return predictions.filter(status=Prediction.Status.DONE).exclude(review_verdict="")


@dataclass
class ModelInUse:
    """How one model version does on the scans it analysed, judged by the reviewers."""

    version: str
    last_used: datetime
    by_status: dict[str, int] = field(default_factory=dict)
    # confusion[reviewer's class][AI's class] = number of reviewed scans
    confusion: dict[str, dict[str, int]] = field(
        default_factory=lambda: {truth: dict.fromkeys(CLASSES, 0) for truth in CLASSES}
    )

    @property
    def analysed(self) -> int:
        return sum(self.by_status.values())

    @property
    def reviewed(self) -> int:
        return sum(sum(row.values()) for row in self.confusion.values())

    @property
    def agreed(self) -> int:
        return sum(self.confusion[name][name] for name in CLASSES)

    @property
    def agreement_rate(self) -> float | None:
        return _ratio(self.agreed, self.reviewed)

    @property
    def gate_rejected_rate(self) -> float | None:
        """Rejected by the input gate, among scans the model looked at (done or rejected)."""
        done = self.by_status.get(Prediction.Status.DONE, 0)
        rejected = self.by_status.get(Prediction.Status.REJECTED, 0)
        return _ratio(rejected, done + rejected)

    @property
    def sensitivity(self) -> dict[str, float | None]:
        """Per class: of the scans the reviewers put in it, the share the AI put there too."""
        return {
            name: _ratio(self.confusion[name][name], sum(self.confusion[name].values()))
            for name in CLASSES
        }

    @property
    def tumour_sensitivity(self) -> float | None:
        """Of the reviewed scans with any tumour, the share the AI called some tumour."""
        rows = [self.confusion[name] for name in CLASSES if name in TUMOUR_CLASSES]
        found = sum(row[ai] for row in rows for ai in CLASSES if ai in TUMOUR_CLASSES)
        return _ratio(found, sum(sum(row.values()) for row in rows))

    def matrix(self) -> list[dict[str, object]]:
        """Rows for a template: the reviewer's class, counts by the AI's class, sensitivity."""
        sensitivity = self.sensitivity
        return [
            {
                "truth": Label(truth).label,
                "counts": [(self.confusion[truth][ai], ai == truth) for ai in CLASSES],
                "sensitivity": sensitivity[truth],
            }
            for truth in CLASSES
        ]


def models_in_use() -> list[ModelInUse]:
    """One summary per model version, most recently used first. Two grouped queries in all."""
    versions: dict[str, ModelInUse] = {}
    by_status = (
        Prediction.objects.exclude(model_version="")
        .values("model_version", "status")
        .annotate(n=Count("id"), last=Max("created_at"))
    )
    for row in by_status:
        version = row["model_version"]
        stats = versions.setdefault(version, ModelInUse(version, last_used=row["last"]))
        stats.by_status[row["status"]] = row["n"]
        stats.last_used = max(stats.last_used, row["last"])
    verdicts = (
        reviewed()
        .exclude(model_version="")
        .values("model_version", "label", "review_verdict", "review_label")
        .annotate(n=Count("id"))
    )
    for verdict in verdicts:
        truth = (
            verdict["label"]
            if verdict["review_verdict"] == Prediction.Verdict.AGREE
            else verdict["review_label"]
        )
        stats = versions[verdict["model_version"]]
        if truth in stats.confusion and verdict["label"] in CLASSES:
            stats.confusion[truth][verdict["label"]] += verdict["n"]
    return sorted(versions.values(), key=lambda stats: stats.last_used, reverse=True)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
