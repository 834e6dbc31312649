"""`POST /api/analyze?wait=N` against a real queue: Redis, a `celery worker` process, MySQL.

The API request holds until the worker has stored the result, then answers 200 with the
seed's shape ({"prediction": ..., "confidence": ...}) plus the rest of the result.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from api.models import ApiToken
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    from ml.testing import write_tiny_artifacts

    return write_tiny_artifacts(tmp_path / "model")


def test_wait_returns_the_result_computed_by_a_real_worker(
    clinician, flush_queue, start_worker, tiny_model
):
    from ml.testing import mri_like_png

    start_worker(model_path=tiny_model)
    _token, key = ApiToken.issue(clinician, "integration")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    def analyze(query: str = ""):
        image = SimpleUploadedFile("slice.png", mri_like_png(96))
        return client.post(reverse("api:analyze") + query, {"image": image}, format="multipart")

    # Warm up: the worker loads TensorFlow and the model on its first task, which on a busy
    # CI machine can take longer than the 30 s a client may wait.
    first = analyze().json()
    wait_for(lambda: client.get(first["status_url"]).json()["finished"], timeout=180)

    response = analyze("?wait=30")

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "done", body["error"]
    assert body["prediction"] in ("Glioma", "Meningioma", "No tumour", "Pituitary tumour")
    assert 0.0 <= body["confidence"] <= 1.0
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert body["model_version"]
    assert client.get(body["heatmap_url"]).status_code == 200
