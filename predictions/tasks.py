"""The one bridge between Django and ml/: the worker loads the engine and stores its results."""

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

from predictions.models import Prediction
from predictions.storage import private_storage

if TYPE_CHECKING:
    from ml.serving.engine import Analysis, Engine

logger = logging.getLogger(__name__)
RETRY_BASE_SECONDS = 5


@functools.cache
def _engine_for(model_path: str) -> Engine:
    # Imported here so that the web process never loads TensorFlow unless it runs tasks eagerly.
    from ml.serving.engine import Engine

    engine = Engine.load(model_path)
    logger.info("loaded model %s (sha256 %s)", engine.version, engine.sha256[:12])
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


@shared_task
def requeue_stuck_predictions() -> int:
    from predictions.services import requeue_stuck_predictions as sweep

    return sweep()


@shared_task
def purge_expired_images() -> int:
    """Retention, run hourly by Celery beat (CELERY_BEAT_SCHEDULE); a no-op when it is off."""
    from predictions.privacy import purge_expired_images as purge

    return purge()


@shared_task
def purge_orphan_files() -> int:
    """Files no row refers to (a worker killed mid-write); run daily by Celery beat."""
    from predictions.privacy import purge_orphan_files as purge

    return purge()


@worker_ready.connect
def _sweep_on_worker_start(**_: object) -> None:
    """A restarted worker (or Redis) may have lost messages: queue the stuck rows again."""
    requeue_stuck_predictions.delay()
