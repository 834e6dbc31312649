"""The one bridge between Django and ml/ and the app's queue: the worker loads the engine and
stores its results; enqueue and the recovery sweep send the messages; the purge tasks run
retention. Services call down into this module (enqueue), never the reverse."""

from __future__ import annotations

import functools
import logging
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from celery import Task, shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DatabaseError, close_old_connections
from django.db.models import Q
from django.utils import timezone

from brainscan.sending import send_or_leave
from predictions.models import Prediction
from predictions.retention import purge_expired_images, purge_orphan_files
from predictions.storage import private_storage

if TYPE_CHECKING:
    from ml.serving.engine import Analysis, Engine

logger = logging.getLogger(__name__)
RETRY_BASE_SECONDS = 5


@functools.cache
def _engine_for(model_path: str) -> Engine:
    # Imported here so that the web process never loads TensorFlow unless it runs tasks eagerly.
    from ml.serving.engine import Engine
    from ml.serving.runtime import batch_bfloat16_wanted

    batch_bfloat16 = batch_bfloat16_wanted(settings.TF_BATCH_BFLOAT16)
    engine = Engine.load(model_path, batch_bfloat16=batch_bfloat16)
    logger.info(
        "loaded model %s (sha256 %s; study batches in %s)",
        engine.version,
        engine.sha256[:12],
        "bfloat16" if batch_bfloat16 else "float32",
    )
    return engine


def _engine() -> Engine:
    return _engine_for(str(settings.MODEL_PATH))


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def run_prediction(self: Task, prediction_id: int) -> None:
    from ml.serving.engine import UnreadableScan
    from ml.serving.runtime import ModelUnavailable

    prediction = Prediction.objects.select_related("scan").filter(pk=prediction_id).first()
    stale_after = timedelta(seconds=settings.PREDICTION_STALE_AFTER_SECONDS)
    if prediction is None or not prediction.claim(
        stale_after=stale_after, max_attempts=settings.PREDICTION_MAX_ATTEMPTS
    ):
        return  # deleted, finished, or another worker has it
    try:
        engine = _engine()
        with prediction.scan.image.open("rb") as f:
            analysis = engine.analyze(f.read())
        _store(prediction, analysis)
    except ModelUnavailable as exc:
        logger.error("prediction %s failed: model not available: %s", prediction_id, exc)
        prediction.mark_failed(f"The analysis model is not available: {exc}")
    except UnreadableScan as exc:  # permanent: retrying cannot help
        prediction.mark_failed(f"The image could not be analysed: {exc}")
    except (OSError, DatabaseError) as exc:  # storage or database hiccup: transient
        _retry_or_fail(self, prediction, exc)
    except Exception:
        logger.exception("prediction %s failed unexpectedly", prediction_id)
        prediction.mark_failed(
            "The analysis failed unexpectedly; the operators have the details in the worker log."
        )


def _retry_or_fail(task: Task, prediction: Prediction, exc: Exception) -> None:
    logger.warning("prediction %s: transient %s, retrying", prediction.pk, type(exc).__name__)
    if task.request.retries >= (task.max_retries or 0):
        _safely(
            prediction.mark_failed,
            f"Gave up after {task.request.retries + 1} tries: {type(exc).__name__}.",
        )
        return
    _safely(prediction.release)
    raise task.retry(exc=exc, countdown=RETRY_BASE_SECONDS * 2**task.request.retries)


def _safely(action, *args) -> None:
    """Run a bookkeeping write that may itself hit the failing database; the sweep recovers.

    A dropped connection stays broken until the task ends (Django reconnects only between
    tasks), so the write is tried once more on a fresh connection. Without that, `release`
    fails, the row stays RUNNING and the retry cannot claim it until it goes stale.
    """
    for attempt in range(2):
        try:
            action(*args)
            return
        except DatabaseError:
            if attempt == 0:
                close_old_connections()  # closes the broken one; the next query reconnects
    logger.warning("could not record the outcome yet; the recovery sweep will retry")


def _store(prediction: Prediction, analysis: Analysis) -> None:
    if not analysis.accepted:
        prediction.mark_rejected(analysis)
        return
    owner = prediction.scan.owner_id
    names = []
    for kind, data in (("heatmap", analysis.heatmap_png), ("overlay", analysis.overlay_png)):
        name = private_storage.save(
            f"results/{owner}/{uuid.uuid4().hex}-{kind}.png", ContentFile(data or b"")
        )
        names.append(name)
    try:
        stored = prediction.mark_done(analysis, heatmap_name=names[0], overlay_name=names[1])
    except BaseException:
        stored = False
        raise
    finally:
        if not stored:  # a duplicate finished first, or the write failed: keep no orphans
            for name in names:
                private_storage.delete(name)


def enqueue_prediction(prediction_id: int) -> bool:
    """Send the task; if the broker is down the row stays PENDING for the recovery sweep."""
    return send_or_leave(
        run_prediction,
        prediction_id,
        logger=logger,
        what="prediction",
        then="the recovery sweep will queue it",
    )


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


@shared_task
def run_recovery_sweep() -> int:
    """The recovery sweep (beat, every PREDICTION_SWEEP_SECONDS, and each worker at start)."""
    return requeue_stuck_predictions()


@shared_task
def run_retention_purge() -> int:
    """Retention, run hourly by Celery beat (CELERY_BEAT_SCHEDULE); a no-op when it is off."""
    return purge_expired_images()


@shared_task
def run_orphan_purge() -> int:
    """Files no row refers to (a worker killed mid-write); run daily by Celery beat."""
    return purge_orphan_files()


@worker_ready.connect
def _sweep_on_worker_start(**_: object) -> None:
    """A restarted worker (or Redis) may have lost messages: queue the stuck rows again."""
    run_recovery_sweep.delay()
