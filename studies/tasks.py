"""The study worker: one task per study, its slices analysed in batches, finished exactly once.

The same guarantees as single scans (predictions/tasks.py): the study is claimed with one
conditional UPDATE (a duplicate message runs nothing), every slice result is written only
while the slice is still pending (a restarted worker continues where the dead one stopped and
never analyses a slice twice), the summary is written only while the study is running, and
result files of a write that did not happen are removed.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone

from brainscan.sending import send_or_leave
from ml.study import SliceResult, StudyRule
from predictions import tasks as prediction_tasks
from predictions.storage import private_storage
from studies.models import Study, StudySlice

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def run_study(self: Task, study_id: int) -> None:
    from ml.serving.engine import UnreadableScan
    from ml.serving.runtime import ModelUnavailable

    study = Study.objects.filter(pk=study_id).first()
    stale_after = timedelta(seconds=settings.PREDICTION_STALE_AFTER_SECONDS)
    if study is None or not study.claim(
        stale_after=stale_after, max_attempts=settings.PREDICTION_MAX_ATTEMPTS
    ):
        return  # deleted, finished, or another worker has it
    try:
        engine = prediction_tasks._engine()
        started = time.perf_counter()
        analysed = _analyse_pending(study, engine)
        _summarise(study, engine, analysed, time.perf_counter() - started)
    except ModelUnavailable as exc:
        logger.error("study %s failed: model not available: %s", study_id, exc)
        study.mark_failed(f"The analysis model is not available: {exc}")
    except UnreadableScan as exc:
        study.mark_failed(f"A slice could not be analysed: {exc}")
    except (OSError, DatabaseError) as exc:  # storage or database hiccup: transient
        logger.warning("study %s: transient %s, retrying", study_id, type(exc).__name__)
        if self.request.retries >= (self.max_retries or 0):
            prediction_tasks._safely(
                study.mark_failed, f"Gave up after {self.request.retries + 1} tries."
            )
            return
        prediction_tasks._safely(study.release)
        raise self.retry(
            exc=exc, countdown=prediction_tasks.RETRY_BASE_SECONDS * 2**self.request.retries
        ) from None
    except Exception:
        logger.exception("study %s failed unexpectedly", study_id)
        study.mark_failed(
            "The analysis failed unexpectedly; the operators have the details in the worker log."
        )


def _analyse_pending(study: Study, engine) -> int:
    """Analyse every slice still pending, `STUDY_BATCH_SIZE` at a time; returns how many."""
    pending = list(
        StudySlice.objects.filter(study=study, status=StudySlice.Status.PENDING)
        .order_by("index")
        .only("pk", "image", "study_id")
    )
    size = max(1, settings.STUDY_BATCH_SIZE)
    done = 0
    for start in range(0, len(pending), size):
        batch = pending[start : start + size]
        images = []
        for row in batch:
            with row.image.open("rb") as handle:
                images.append(handle.read())
        for row, analysis in zip(batch, engine.analyze_batch(images), strict=True):
            done += _store_slice(study, row, analysis)
        study.heartbeat()  # progress for the page, and a fresh claim for a long study
    return done


def _store_slice(study: Study, row: StudySlice, analysis) -> int:
    """Write one slice's result if it is still pending; its heatmap file only with it."""
    still_pending = StudySlice.objects.filter(pk=row.pk, status=StudySlice.Status.PENDING)
    if not analysis.accepted:
        return still_pending.update(
            status=StudySlice.Status.REJECTED,
            gate_score=analysis.gate_score,
            gate_reason=(analysis.gate_reason or "")[:300],
        )
    name = ""
    if analysis.heatmap_png:
        name = private_storage.save(
            f"studies/{study.owner_id}/{uuid.uuid4().hex}-heatmap.png",
            ContentFile(analysis.heatmap_png),
        )
    stored = 0
    try:
        stored = still_pending.update(
            status=StudySlice.Status.DONE,
            label=analysis.label or "",
            probabilities=analysis.probabilities,
            tumour_probability=analysis.tumour_probability,
            risk=analysis.risk or "",
            gate_score=analysis.gate_score,
            unfamiliar=bool(getattr(analysis, "unfamiliar", False)),
            heatmap_class=getattr(analysis, "heatmap_class", None) or "",
            heatmap=name,
        )
    finally:
        if not stored and name:  # a duplicate wrote first, the study is gone, or it failed
            private_storage.delete(name)
    return stored


def _summarise(study: Study, engine, analysed_now: int, seconds: float) -> None:
    card = engine.card
    rule = StudyRule.from_card(card.extra, card.risk_thresholds)
    rows = list(
        StudySlice.objects.filter(study=study)
        .order_by("index")
        .values_list("index", "series__number", "status", "tumour_probability", "probabilities")
    )
    results = [
        SliceResult(index, series, p if status == StudySlice.Status.DONE else None, probs or {})
        for index, series, status, p, probs in rows
    ]
    outcome = rule.apply(results, card.normal_class)
    common = {
        "slices_analysed": len(rows),
        "rule": {
            "k": rule.k,
            "thresholds": rule.thresholds,
            "calibrated": rule.calibrated,
            "description": rule.describe(),
        },
        "model_version": engine.version,
        "model_sha256": engine.sha256,
        "timings": {
            "analysis_s": round(seconds, 3),
            "slices_this_attempt": analysed_now,
            "ms_per_slice": round(1000 * seconds / analysed_now, 2) if analysed_now else None,
        },
    }
    if outcome.tumour_probability is None:
        study.finish(
            status=Study.Status.REJECTED,
            error="No slice of this study passed the input check (not brain MRI as far as the "
            "model can tell), so there is no study result.",
            **common,
        )
        return
    study.finish(
        status=Study.Status.DONE,
        error="",
        label=outcome.label or "",
        tumour_probability=outcome.tumour_probability,
        risk=outcome.risk or "",
        driving_slices=outcome.driving,
        flagged_slices=outcome.flagged,
        **common,
    )


def enqueue_study(study_id: int) -> bool:
    """Send the task; if the broker is down the study stays PENDING for the recovery sweep."""
    return send_or_leave(
        run_study,
        study_id,
        logger=logger,
        what="study",
        then="the recovery sweep will queue it",
    )


def requeue_stuck_studies(*, pending_after: timedelta | None = None) -> int:
    """As `requeue_stuck_predictions`, for studies: lost messages and dead workers."""
    now = timezone.now()
    if pending_after is None:
        pending_after = timedelta(seconds=settings.PREDICTION_REQUEUE_PENDING_AFTER_SECONDS)
    stale = timedelta(seconds=settings.PREDICTION_STALE_AFTER_SECONDS)
    ids = list(
        Study.objects.filter(
            Q(status=Study.Status.PENDING, uploaded_at__lte=now - pending_after)
            | Q(status=Study.Status.RUNNING, started_at__lt=now - stale)
        ).values_list("pk", flat=True)
    )
    sent = 0
    for study_id in ids:
        if not enqueue_study(study_id):
            break
        sent += 1
    if ids:
        logger.info("recovery sweep queued %d of %d stuck stud(ies) again", sent, len(ids))
    return sent


@shared_task
def run_recovery_sweep() -> int:
    """The studies' recovery sweep (beat, every PREDICTION_SWEEP_SECONDS, and each worker at start)."""
    return requeue_stuck_studies()


@worker_ready.connect
def _sweep_on_worker_start(**_: object) -> None:
    """A restarted worker (or Redis) may have lost messages: queue the stuck studies again."""
    run_recovery_sweep.delay()
