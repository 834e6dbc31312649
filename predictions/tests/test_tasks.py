from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from predictions.models import Prediction
from predictions.tasks import run_prediction
from predictions.tests.factories import PredictionFactory
from predictions.tests.fakes import REJECTED, FakeEngine

pytestmark = pytest.mark.django_db


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_done_prediction_stores_result_and_private_files(fake_engine, private_root):
    prediction = PredictionFactory()

    run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE
    assert prediction.label == "glioma"
    assert prediction.risk == "high"
    assert prediction.probabilities["glioma"] == pytest.approx(0.91)
    assert prediction.attempts == 1
    assert prediction.finished_at is not None
    assert (private_root / prediction.overlay.name).is_file()
    assert (private_root / prediction.heatmap.name).is_file()


def test_duplicate_delivery_runs_inference_once(fake_engine, private_root):
    prediction = PredictionFactory()

    run_prediction(prediction.pk)
    run_prediction(prediction.pk)  # Redis redelivered the message

    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE
    assert fake_engine.calls == 1
    assert len(stored_files(private_root / "results")) == 2  # one heatmap, one overlay


def test_running_claim_of_live_worker_is_not_taken(fake_engine):
    prediction = PredictionFactory(
        status=Prediction.Status.RUNNING, started_at=timezone.now(), attempts=1
    )

    run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.RUNNING
    assert fake_engine.calls == 0


def test_crashed_workers_claim_expires_and_is_retried(fake_engine, settings):
    long_ago = timezone.now() - timedelta(seconds=settings.PREDICTION_STALE_AFTER_SECONDS + 5)
    prediction = PredictionFactory(
        status=Prediction.Status.RUNNING, started_at=long_ago, attempts=1
    )

    run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE
    assert prediction.attempts == 2
    assert fake_engine.calls == 1


def test_claims_are_capped_so_a_poison_scan_ends_failed(fake_engine, settings):
    long_ago = timezone.now() - timedelta(seconds=settings.PREDICTION_STALE_AFTER_SECONDS + 5)
    prediction = PredictionFactory(
        status=Prediction.Status.RUNNING,
        started_at=long_ago,
        attempts=settings.PREDICTION_MAX_ATTEMPTS,
    )

    run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert "attempts" in prediction.error
    assert fake_engine.calls == 0


def test_missing_model_fails_the_prediction_with_a_clear_message(settings, tmp_path, caplog):
    settings.MODEL_PATH = tmp_path / "no-such-model.keras"
    prediction = PredictionFactory()

    run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert "model is not available" in prediction.error
    assert "model not available" in caplog.text


def test_image_the_engine_cannot_read_fails_for_good(monkeypatch):
    from ml.serving.engine import UnreadableScan

    engine = FakeEngine(error=UnreadableScan("the image data is truncated"))
    monkeypatch.setattr("predictions.tasks._engine", lambda: engine)
    prediction = PredictionFactory()

    run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert "truncated" in prediction.error
    assert engine.calls == 1


def test_gate_rejection_is_stored_with_its_reason(monkeypatch, private_root):
    monkeypatch.setattr("predictions.tasks._engine", lambda: FakeEngine(REJECTED))
    prediction = PredictionFactory()

    run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.REJECTED
    assert prediction.error == REJECTED.gate_reason
    assert prediction.label == ""
    assert not prediction.overlay
    assert stored_files(private_root / "results") == []


def test_an_unfamiliar_analysis_is_stored_with_its_flag_and_heatmap_class(
    monkeypatch, private_root
):
    from dataclasses import replace

    from predictions.tests.fakes import FakeAnalysis

    flagged = replace(FakeAnalysis(), unfamiliar=True, heatmap_class="meningioma")
    monkeypatch.setattr("predictions.tasks._engine", lambda: FakeEngine(flagged))
    prediction = PredictionFactory()

    run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE
    assert prediction.unfamiliar is True
    assert prediction.heatmap_class == "meningioma"


def test_transient_storage_error_releases_the_claim_for_a_retry(monkeypatch):
    engine = FakeEngine(error=OSError("disk hiccup"))
    monkeypatch.setattr("predictions.tasks._engine", lambda: engine)
    prediction = PredictionFactory()

    with pytest.raises(OSError, match="disk hiccup"):  # called directly, retry re-raises
        run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.PENDING
    assert prediction.attempts == 1


def test_transient_errors_are_retried_then_fail_with_a_readable_error(monkeypatch):
    engine = FakeEngine(error=OSError("disk hiccup"))
    monkeypatch.setattr("predictions.tasks._engine", lambda: engine)
    prediction = PredictionFactory()

    run_prediction.apply(args=[prediction.pk])  # eager: each retry runs inline

    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert engine.calls == run_prediction.max_retries + 1
    assert prediction.error.startswith("Gave up after 4 tries")


def test_deleted_prediction_is_ignored(fake_engine):
    prediction = PredictionFactory()
    prediction.scan.delete()

    run_prediction(prediction.pk)

    assert fake_engine.calls == 0


def test_unexpected_error_fails_without_leaking_details(monkeypatch):
    engine = FakeEngine(error=RuntimeError("secret internal path /data/patient-x"))
    monkeypatch.setattr("predictions.tasks._engine", lambda: engine)
    prediction = PredictionFactory()

    run_prediction(prediction.pk)

    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert "patient-x" not in prediction.error


def test_scan_deleted_during_analysis_leaves_no_result_files(monkeypatch, private_root):
    prediction = PredictionFactory()

    class DeletingEngine(FakeEngine):
        def analyze(self, image, *, explain=True):
            Prediction.objects.get(pk=prediction.pk).scan.delete()  # the clinician deletes it
            return super().analyze(image, explain=explain)

    monkeypatch.setattr("predictions.tasks._engine", lambda: DeletingEngine())

    run_prediction(prediction.pk)  # finishes quietly

    assert not Prediction.objects.filter(pk=prediction.pk).exists()
    assert stored_files(private_root / "results") == []
