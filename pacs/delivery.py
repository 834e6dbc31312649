"""Results back to the PACS: seal the identifiers on arrival, send once the study is finished.

1. `seal_identifiers`: when the listener reads a complete study, the few identifiers a PACS
   needs (pacs.identifiers) are copied from its first instance, encrypted, onto its
   `ReceivedStudy`, before the spool (with everything else) is deleted.
2. `schedule`: once the study is finished (`studies.signals.study_finished`, or the listener
   finding it already finished when it links the two), one `Delivery` row is made (one per
   received study: a unique one-to-one), and its task queued after the commit. A study with
   no result, or a node with no destination, gets a NOT_SENT row and its identifiers erased.
3. `attempt` (the task `pacs.tasks.deliver_results`): claims the delivery with one
   conditional UPDATE (so a duplicate message, or one after success, sends nothing), unseals
   the identifiers, builds the SR and key images (pacs.results) and C-STOREs them
   (pacs.sender). Success: DELIVERED, and the identifiers erased in the same transaction.
   Failure: RETRYING with the next attempt's time (exponential backoff), or FAILED after
   PACS_SEND_MAX_ATTEMPTS (the identifiers erased: nothing will use them again). Each attempt is announced (`pacs.signals.delivery_attempted`)
   for the audit log.
4. `purge_identifiers`: identifiers older than PACS_IDENTIFIERS_RETENTION_HOURS are erased
   whatever happened; an open delivery then fails (it has nothing left to send with).

Logs and errors name our own ids and counts, never an identifier.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.signals import pre_delete
from django.utils import timezone
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from brainscan.sending import send_or_leave
from pacs import identifiers as ids
from pacs import results
from pacs.models import Delivery, ReceivedStudy
from pacs.sender import Destination, SendFailed, store
from pacs.signals import delivery_attempted
from studies.models import Study, StudySlice
from studies.signals import study_finished

logger = logging.getLogger(__name__)
State = Delivery.State
MODEL_NAME = "brainscan"


def connect() -> None:
    study_finished.connect(_study_finished, sender=Study, dispatch_uid="pacs.study_finished")
    pre_delete.connect(_study_deleted, sender=Study, dispatch_uid="pacs.study_deleted")


def _study_deleted(sender: type[Study], instance: Study, **_: object) -> None:
    """A study deleted by its owner (or the retention purge) takes its return identifiers
    with it at once, not at the retention limit: nothing will be sent for it any more."""
    for receipt_id in ReceivedStudy.objects.filter(study=instance).values_list("pk", flat=True):
        erase_identifiers(receipt_id)
        close_open_delivery(receipt_id, State.NOT_SENT, "The study was deleted; results not sent.")


# --- 1. on arrival -------------------------------------------------------------------------


def seal_identifiers(receipt_id: int, files: list[object]) -> bool:
    """Seal the return identifiers of a received study from its first readable instance."""
    for handle in files:
        try:
            handle.seek(0)  # type: ignore[attr-defined]
            data = handle.read()  # type: ignore[attr-defined]
            dataset = dcmread(io.BytesIO(data), stop_before_pixels=True)
            found = ids.ReturnIdentifiers.from_dataset(dataset)
        except (InvalidDicomError, ValueError, AttributeError, OSError, EOFError):
            continue
        finally:
            handle.seek(0)  # type: ignore[attr-defined]
        ReceivedStudy.objects.filter(pk=receipt_id).update(sealed_identifiers=ids.seal(found))
        return True
    return False


def close_open_delivery(receipt_id: int, state: str, error: str) -> None:
    """An open (pending or retrying) delivery that can no longer send ends in `state`."""
    Delivery.objects.filter(
        receipt_id=receipt_id, state__in=[State.PENDING, State.RETRYING]
    ).update(state=state, error=error, next_attempt_at=None)


def erase_identifiers(receipt_id: int, now: datetime | None = None) -> int:
    return ReceivedStudy.objects.filter(pk=receipt_id, sealed_identifiers__isnull=False).update(
        sealed_identifiers=None, identifiers_erased_at=now or timezone.now()
    )


# --- 2. once finished ----------------------------------------------------------------------


def _study_finished(sender: type[Study], study: Study, **_: object) -> None:
    receipt = ReceivedStudy.objects.filter(study=study).select_related("node").first()
    if receipt is not None:
        schedule(receipt)


def schedule(receipt: ReceivedStudy) -> Delivery | None:
    """The receipt's delivery, made once its study is finished (None before); queued after
    the commit when there is something to send. Safe to call any number of times."""
    study = Study.objects.filter(pk=receipt.study_id).first() if receipt.study_id else None
    if study is None or not study.is_finished:
        return None
    existing = Delivery.objects.filter(receipt=receipt).first()
    if existing is not None:
        return existing
    reason = _not_sendable(receipt, study)
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(
                receipt=receipt,
                state=State.NOT_SENT if reason else State.PENDING,
                error=reason,
                next_attempt_at=None if reason else timezone.now(),
            )
            if reason:
                erase_identifiers(receipt.pk)
            else:
                transaction.on_commit(partial(enqueue, delivery.pk))
    except IntegrityError:  # made at the same moment by the other path
        return Delivery.objects.filter(receipt=receipt).first()
    if reason:
        logger.info("received study %s: results not sent: %s", receipt.pk, reason)
    return delivery


def _not_sendable(receipt: ReceivedStudy, study: Study) -> str:
    node = receipt.node
    if node is None or not node.sends_results:
        return "The sending node has no destination for results."
    if study.status != Study.Status.DONE:
        return "The study has no result to send."
    if receipt.sealed_identifiers is None:
        return "The study's identifiers were not kept (or already deleted)."
    if study.images_purged_at is not None:
        return "The study's images were deleted before its results could be sent."
    return ""


def enqueue(delivery_id: int) -> bool:
    """Queue the task; if the broker is down the delivery waits for `send_due`."""
    from pacs.tasks import deliver_results

    return send_or_leave(
        deliver_results,
        delivery_id,
        logger=logger,
        what="delivery",
        then="the sweep will send it",
    )


# --- 3. one attempt ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    state: str  # Delivery.State, after the attempt
    attempted: bool  # False: nothing to do (sent already, or another task has it)
    retry_in: float | None = None  # seconds, when RETRYING


def retry_delay(attempts: int) -> float:
    """After the n-th failed attempt: base, 2 x base, 4 x base, ..."""
    return float(settings.PACS_SEND_RETRY_SECONDS * 2 ** max(0, attempts - 1))


def claim(delivery_id: int, now: datetime) -> bool:
    """PENDING or RETRYING (or SENDING by a task that died: past the send timeout, twice)
    -> SENDING, in one conditional UPDATE: one caller wins, the others do nothing."""
    stale = now - timedelta(seconds=4 * settings.PACS_SEND_TIMEOUT_SECONDS + 60)
    claimable = Q(state__in=[State.PENDING, State.RETRYING]) | Q(
        state=State.SENDING, claimed_at__lt=stale
    )
    return bool(
        Delivery.objects.filter(claimable, pk=delivery_id).update(
            state=State.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    )


def attempt(delivery_id: int) -> Outcome:
    now = timezone.now()
    if not claim(delivery_id, now):
        state = Delivery.objects.filter(pk=delivery_id).values_list("state", flat=True).first()
        return Outcome(state or "", attempted=False)
    delivery = Delivery.objects.select_related("receipt__node", "receipt__study").get(
        pk=delivery_id
    )
    try:
        datasets = build(delivery.receipt)
        node = delivery.receipt.node
        if node is None or not node.sends_results:
            raise Unsendable("The sending node was removed, or has no destination any more.")
        sent = store(
            datasets,
            Destination(node.return_ae_title, node.return_host, int(node.return_port or 0)),
            calling_ae_title=settings.DICOM_AE_TITLE,
            timeout=settings.PACS_SEND_TIMEOUT_SECONDS,
        )
    except (SendFailed, ids.IdentifiersUnavailable, Unsendable) as exc:
        return _failed(delivery, str(exc), permanent=not isinstance(exc, SendFailed))
    except Exception as exc:  # a bug, or storage: retried as a failed send is, logged in full
        logger.exception("delivery %s: unexpected %s", delivery.pk, type(exc).__name__)
        return _failed(delivery, f"Building or sending the results failed ({type(exc).__name__}).")
    return _delivered(delivery, sent)


def _delivered(delivery: Delivery, sent: int) -> Outcome:
    now = timezone.now()
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, state=State.SENDING).update(
            state=State.DELIVERED, delivered_at=now, objects_sent=sent, error="",
            next_attempt_at=None,
        )  # fmt: skip
        erase_identifiers(delivery.receipt_id, now)
    delivery.refresh_from_db()
    logger.info("delivery %s: %d object(s) stored in the PACS", delivery.pk, sent)
    delivery_attempted.send(sender=Delivery, delivery=delivery, succeeded=True, reason="")
    return Outcome(State.DELIVERED, attempted=True)


def _failed(delivery: Delivery, reason: str, *, permanent: bool = False) -> Outcome:
    attempts = delivery.attempts
    give_up = permanent or attempts >= settings.PACS_SEND_MAX_ATTEMPTS
    delay = None if give_up else retry_delay(attempts)
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, state=State.SENDING).update(
            state=State.FAILED if give_up else State.RETRYING,
            error=reason[:300],
            next_attempt_at=None if delay is None else timezone.now() + timedelta(seconds=delay),
        )
        if give_up:  # no attempt will ever need them again
            erase_identifiers(delivery.receipt_id)
    delivery.refresh_from_db()
    logger.warning(
        "delivery %s: attempt %d failed: %s%s",
        delivery.pk,
        attempts,
        reason,
        "; gave up" if give_up else f"; next attempt in {delay:g} s",
    )
    delivery_attempted.send(sender=Delivery, delivery=delivery, succeeded=False, reason=reason)
    return Outcome(delivery.state, attempted=True, retry_in=delay)


class Unsendable(Exception):
    """Nothing can be sent, now or later (no identifiers, no key image); not retried."""


# --- building the objects ------------------------------------------------------------------


def build(receipt: ReceivedStudy) -> list[Dataset]:
    """The SR and the key images of a receipt's study, with its unsealed identifiers."""
    if receipt.sealed_identifiers is None:
        raise Unsendable("The study's identifiers were deleted before its results were sent.")
    identifiers = ids.unseal(receipt.sealed_identifiers)
    study = receipt.study
    if study is None or study.status != Study.Status.DONE:
        raise Unsendable("The study has no result to send.")
    keys = key_slices(study)
    if not keys:
        raise Unsendable("The study has no key slice image left to send.")
    uids = results.ResultUIDs.derived(ids.uid_entropy(identifiers, receipt.pk), len(keys))
    images = results.build_key_images(identifiers, keys, uids)
    summary = results.ResultSummary(
        label=study.label,
        tumour_probability=float(study.tumour_probability or 0.0),
        risk=study.risk,
        model_name=MODEL_NAME,
        model_version=study.model_version or "unknown",
    )
    return [results.build_report(identifiers, summary, images, uids), *images]


def key_slices(study: Study) -> list[results.KeySlice]:
    """The flagged slices (at or above the medium threshold) or, when none is, the slices
    the study's result comes from; PACS_MAX_KEY_IMAGES at most, in study order."""
    chosen = sorted(set(study.flagged_slices) or set(study.driving_slices))
    chosen = chosen[: settings.PACS_MAX_KEY_IMAGES]
    rows = StudySlice.objects.filter(study=study, index__in=chosen).order_by("index")
    keys = []
    for row in rows:
        if not row.image:
            continue
        with row.image.open("rb") as handle:
            image = handle.read()
        heatmap = None
        if row.heatmap:
            with row.heatmap.open("rb") as handle:
                heatmap = handle.read()
        probability = f", tumour {row.tumour_probability:.1%}" if row.tumour_probability else ""
        caption = (
            f"Slice {row.index + 1} ({row.position_mm:.0f} mm): "
            f"{row.get_label_display() or 'no result'}{probability}"
        )
        keys.append(results.KeySlice(row.index, image, heatmap, caption))
    return keys


# --- 4. the sweeps -------------------------------------------------------------------------


def send_due(now: datetime | None = None) -> int:
    """Queue deliveries whose time has come and whose message may be lost: PENDING or
    RETRYING past their next attempt by a minute (Celery's own retry is due before)."""
    now = now or timezone.now()
    due = Delivery.objects.filter(
        state__in=[State.PENDING, State.RETRYING], next_attempt_at__lte=now - timedelta(minutes=1)
    ).values_list("pk", flat=True)
    sent = 0
    for delivery_id in list(due):
        if not enqueue(delivery_id):
            break
        sent += 1
    return sent


def purge_identifiers(*, hours: int | None = None, now: datetime | None = None) -> int:
    """Erase every return identifier older than `hours` (PACS_IDENTIFIERS_RETENTION_HOURS);
    their open deliveries fail. Returns how many receipts were erased."""
    now = now or timezone.now()
    hours = settings.PACS_IDENTIFIERS_RETENTION_HOURS if hours is None else hours
    old = ReceivedStudy.objects.filter(
        sealed_identifiers__isnull=False, first_received_at__lt=now - timedelta(hours=hours)
    )
    erased = 0
    for receipt_id in list(old.values_list("pk", flat=True)):
        with transaction.atomic():
            erased += erase_identifiers(receipt_id, now)
            close_open_delivery(
                receipt_id,
                State.FAILED,
                f"The identifiers were deleted after {hours} hours; results not sent.",
            )
    if erased:
        logger.info("return identifiers of %d received stud(ies) deleted (retention)", erased)
    return erased
