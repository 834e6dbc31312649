"""When the broker cannot be reached, uploads still succeed and the sweep catches up later."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from predictions.models import Prediction
from predictions.tasks import requeue_stuck_predictions
from predictions.tests.factories import PredictionFactory
from predictions.tests.images import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down(monkeypatch) -> list[int]:
    """Every send fails as kombu fails for an unreachable Redis; records what was tried."""
    tried: list[int] = []

    def refuse(prediction_id: int) -> None:
        tried.append(prediction_id)
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("predictions.tasks.run_prediction.delay", refuse)
    return tried


def test_upload_while_the_broker_is_down_is_stored_and_waits_once_not_per_file(
    clinician_client, broker_down, django_capture_on_commit_callbacks
):
    files = [SimpleUploadedFile(f"s{i}.png", png_bytes(64, seed=i)) for i in range(3)]

    with django_capture_on_commit_callbacks(execute=True):
        response = clinician_client.post(reverse("predictions:upload"), {"images": files})

    assert response.status_code == 302
    assert list(Prediction.objects.values_list("status", flat=True)) == ["pending"] * 3
    assert len(broker_down) == 1  # one broker timeout for the whole upload


def test_sweep_takes_pending_rows_older_than_the_configured_age(settings, monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr("predictions.tasks.run_prediction.delay", sent.append)
    settings.PREDICTION_REQUEUE_PENDING_AFTER_SECONDS = 5
    now = timezone.now()
    lost = PredictionFactory(created_at=now - timedelta(seconds=6))
    PredictionFactory(created_at=now - timedelta(seconds=1))  # most likely still queued

    assert requeue_stuck_predictions() == 1
    assert sent == [lost.pk]


def test_sweep_while_the_broker_is_down_stops_at_the_first_failure(broker_down):
    old = timezone.now() - timedelta(hours=1)
    PredictionFactory.create_batch(3, created_at=old)

    assert requeue_stuck_predictions() == 0
    assert len(broker_down) == 1
    assert Prediction.objects.filter(status=Prediction.Status.PENDING).count() == 3
