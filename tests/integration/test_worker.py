"""One scan from upload to stored result through Redis and a real `celery worker` process.

No mocks: the web side is Django's test client, the queue is the local Redis, the database is
MySQL/MariaDB, and the worker runs ml.serving.engine on a real Keras model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from predictions.models import Prediction, Scan
from tests.integration.conftest import real_test_slices, wait_for

pytestmark = pytest.mark.integration
SHIPPED_MODEL = Path(settings.BASE_DIR) / "ml" / "artifacts" / "brainscan.keras"


def upload(client, *files: tuple[str, bytes]):
    uploads = [SimpleUploadedFile(name, data) for name, data in files]
    return client.post(reverse("predictions:upload"), {"images": uploads})


def finished(predictions: list[Prediction]) -> bool:
    return all(Prediction.objects.get(pk=p.pk).status in Prediction.FINISHED for p in predictions)


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    from ml.testing import write_tiny_artifacts

    return write_tiny_artifacts(tmp_path / "model")


def test_scan_travels_from_upload_to_stored_result(
    clinician_client, flush_queue, start_worker, tiny_model, private_root
):
    from ml.testing import mri_like_png

    start_worker(model_path=tiny_model)

    response = upload(clinician_client, ("slice.png", mri_like_png(96)))

    assert response.status_code == 302
    prediction = Scan.objects.get().prediction
    wait_for(lambda: finished([prediction]))
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE, prediction.error
    assert prediction.attempts == 1
    assert set(prediction.probabilities) == {"glioma", "meningioma", "notumor", "pituitary"}
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert prediction.risk in {"low", "medium", "high"}
    assert prediction.model_version
    assert len(prediction.model_sha256) == 64
    assert (private_root / prediction.overlay.name).stat().st_size > 0
    page = clinician_client.get(reverse("predictions:detail", args=[prediction.scan_id]))
    assert reverse("predictions:overlay-image", args=[prediction.scan_id]) in page.content.decode()


def test_missing_model_fails_the_scan_and_says_so_in_the_worker_log(
    clinician_client, flush_queue, start_worker, tmp_path
):
    from ml.testing import mri_like_png

    worker = start_worker(model_path=tmp_path / "absent.keras")

    upload(clinician_client, ("slice.png", mri_like_png(96)))

    prediction = Scan.objects.get().prediction
    wait_for(lambda: finished([prediction]))
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert "model is not available" in prediction.error
    wait_for(lambda: "model not available" in worker.log_text(), timeout=10)


def test_shipped_model_analyses_real_slices_and_rejects_a_photo(
    clinician_client, flush_queue, start_worker
):
    assert SHIPPED_MODEL.exists(), "the trained model ml/artifacts/brainscan.keras is committed"
    import io

    from PIL import Image
    from skimage import data as skimage_data

    start_worker()  # the default MODEL_PATH: the shipped model
    slices = [(p.name, p.read_bytes()) for p in real_test_slices(4)]
    photo = io.BytesIO()
    Image.fromarray(skimage_data.astronaut()).save(photo, format="JPEG")

    upload(clinician_client, *slices, ("holiday.jpg", photo.getvalue()))

    predictions = [scan.prediction for scan in Scan.objects.order_by("id")]
    wait_for(lambda: finished(predictions), timeout=180)
    *mri, rejected = [Prediction.objects.get(pk=p.pk) for p in predictions]
    # The gate's limit refuses ~0.5 % of real MRIs by design (GATE.md): with brainscan
    # 2.0.0 one of these four (Te-noTr_0000.jpg, score 1.04) is one of them. Every slice
    # must end done with its heatmap, or refused with the gate's reason; all but one done.
    done = [p for p in mri if p.status == Prediction.Status.DONE]
    assert len(done) >= len(mri) - 1, [p.error for p in mri]
    assert all(p.gate_accepted and p.overlay and p.heatmap_inside_brain is not None for p in done)
    assert all(
        p.status == Prediction.Status.REJECTED and "brain MRI" in p.error
        for p in mri
        if p not in done
    )
    assert rejected.status == Prediction.Status.REJECTED
    assert "brain MRI" in rejected.error
