"""Reviewers' verdicts on AI results: checking and recording them, the review queue, and the
reviews a clinician has not seen yet. What they say about the model in use: monitoring.py."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.models import User
from predictions.models import CLASSES, Prediction
from predictions.signals import review_recorded


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


def blind_read_pending(prediction: Prediction, reviewer: User) -> bool:
    """True while a blind reader must record a first impression before seeing the AI's answer:
    their option is on, the scan is theirs to review and nobody has judged it yet."""
    return bool(
        reviewer.blind_read
        and prediction.status == Prediction.Status.DONE
        and not prediction.review_verdict
        and not prediction.first_impression
        and prediction.scan.owner_id != reviewer.pk
    )


@transaction.atomic
def record_first_impression(prediction: Prediction, reviewer: User, label: str) -> Prediction:
    """Store a blind reader's class, seen before the AI's answer; written once, never changed."""
    check_reviewer(prediction, reviewer)
    if prediction.status != Prediction.Status.DONE:
        raise ReviewError("Only finished analyses with a predicted class can be reviewed.")
    if prediction.review_verdict or prediction.first_impression:
        raise ReviewError("This scan already has a first impression or a verdict.")
    if label not in CLASSES:
        raise ReviewError("Choose the class you see.")
    prediction.first_impression = label
    prediction.first_impression_by = reviewer
    prediction.first_impression_at = timezone.now()
    prediction.save(
        update_fields=["first_impression", "first_impression_by", "first_impression_at"]
    )
    return prediction


@transaction.atomic
def record_review(
    prediction: Prediction, reviewer: User, *, verdict: str, label: str = "", note: str = ""
) -> Prediction:
    """Store a verdict with who gave it and when. Only the review fields are written."""
    check_reviewer(prediction, reviewer)
    if blind_read_pending(prediction, reviewer):
        raise ReviewError("Blind read: record your first impression before the verdict.")
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


QUEUE_ORDERS = {"oldest": "oldest first", "risk": "highest risk first"}
RISK_RANK = Case(
    When(risk="high", then=Value(0)),
    When(risk="medium", then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def review_queue(reviewer: User, order: str = "oldest") -> QuerySet[Prediction]:
    """The finished, unreviewed results `reviewer` may judge (never their own scans), oldest
    first, or by risk (high, medium, low) and then oldest first."""
    queue = (
        Prediction.objects.filter(status=Prediction.Status.DONE, review_verdict="")
        .exclude(owner=reviewer)
        .annotate(risk_rank=RISK_RANK)
    )
    if order == "risk":
        return queue.order_by("risk_rank", "created_at", "pk")
    return queue.order_by("created_at", "pk")


def next_in_queue(
    reviewer: User, order: str = "oldest", after: Prediction | None = None
) -> Prediction | None:
    """The first result of the queue, or the first one after `after` in the queue's order
    ("Next" skips the one on screen); from the start again when `after` was the last."""
    queue = review_queue(reviewer, order)
    if after is not None:
        later = Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, pk__gt=after.pk)
        if order == "risk":
            rank = {"high": 0, "medium": 1}.get(after.risk, 2)
            later = Q(risk_rank__gt=rank) | (Q(risk_rank=rank) & later)
        following = queue.filter(later).first()
        if following is not None:
            return following
        return queue.exclude(pk=after.pk).first()
    return queue.first()


@dataclass
class NewReviews:
    """Verdicts on a clinician's scans recorded since they last opened their history."""

    count: int
    latest: list[Prediction]  # the most recent few, newest first
    scan_ids: set[int]  # of `latest`, to mark their rows


def reviewed_since_last_visit(owner: User, shown: int = 10) -> NewReviews:
    """The reviews of `owner`'s scans after their previous visit to the history (all of them
    when no visit is recorded yet), and record this visit."""
    now = timezone.now()
    new = reviewed(Prediction.objects.filter(owner=owner, reviewed_at__isnull=False))
    if owner.reviews_seen_at is not None:
        new = new.filter(reviewed_at__gt=owner.reviews_seen_at)
    latest = list(new.select_related("scan").order_by("-reviewed_at", "-pk")[:shown])
    count = len(latest) if len(latest) < shown else new.count()
    User.objects.filter(pk=owner.pk).update(reviews_seen_at=now)
    owner.reviews_seen_at = now
    return NewReviews(count, latest, {p.scan_id for p in latest})


def reviewed(predictions: QuerySet[Prediction] | None = None) -> QuerySet[Prediction]:
    predictions = predictions if predictions is not None else Prediction.objects.all()
    return predictions.filter(status=Prediction.Status.DONE).exclude(review_verdict="")
