from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from predictions.models import Prediction
from predictions.tasks import requeue_stuck_predictions
from predictions.tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    messages: list[int] = []
    monkeypatch.setattr("predictions.tasks.run_prediction.delay", messages.append)
    return messages


def test_sweep_requeues_old_pending_and_stale_running_rows_only(sent, settings):
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PREDICTION_STALE_AFTER_SECONDS + 1)
    lost = PredictionFactory(created_at=now - timedelta(minutes=10))
    just_queued = PredictionFactory(created_at=now)
    dead_worker = PredictionFactory(status=Prediction.Status.RUNNING, started_at=stale, attempts=1)
    live_worker = PredictionFactory(status=Prediction.Status.RUNNING, started_at=now, attempts=1)
    finished = PredictionFactory(status=Prediction.Status.DONE, created_at=now - timedelta(hours=1))

    count = requeue_stuck_predictions()

    assert count == 2
    assert sorted(sent) == sorted([lost.pk, dead_worker.pk])
    assert {just_queued.pk, live_worker.pk, finished.pk}.isdisjoint(sent)


def test_requeued_prediction_runs_to_the_end(fake_engine, monkeypatch):
    prediction = PredictionFactory(created_at=timezone.now() - timedelta(minutes=10))

    requeue_stuck_predictions()  # eager in tests: the task runs here

    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE
    assert fake_engine.calls == 1


def test_requeue_command_reports_the_count(sent):
    PredictionFactory(created_at=timezone.now() - timedelta(minutes=1))
    out = StringIO()

    call_command("requeue_predictions", "--pending-after", "30", stdout=out)

    assert "1 prediction(s) queued again." in out.getvalue()
    assert len(sent) == 1
