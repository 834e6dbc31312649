from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from api.tests.conftest import client_with_token
from predictions.models import Prediction, Scan
from predictions.tests.images import png_bytes

ANALYZE = reverse("api:analyze")


def image(data: bytes | None = None, name: str = "slice.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes() if data is None else data, "image/png")


def analyze(client: APIClient, query: str = "", **fields: object):
    fields.setdefault("image", image())
    return client.post(f"{ANALYZE}{query}", fields, format="multipart")


@pytest.mark.django_db(transaction=True)
def test_wait_answers_with_the_result_in_the_seed_shape(clinician, fake_engine):
    """Committed for real, so the in-process task runs on commit while the request waits."""
    response = analyze(client_with_token(clinician), "?wait=10")

    assert response.status_code == 200
    body = response.json()
    assert body["prediction"] == "Glioma"
    assert body["confidence"] == pytest.approx(0.91)
    assert body["status"] == "done"
    assert body["probabilities"]["glioma"] == pytest.approx(0.91)
    assert body["tumour_probability"] == pytest.approx(0.98)
    assert body["risk"] == "high"
    assert body["gate"] == {"accepted": True, "score": pytest.approx(0.2)}
    assert body["model_version"] == "fake-0.0.0"
    assert body["heatmap_url"].endswith(reverse("api:heatmap-image", args=[body["id"]]))
    assert Scan.objects.get(pk=body["id"]).owner == clinician


@pytest.mark.django_db
def test_without_wait_the_scan_is_accepted_with_a_status_url(api_client, clinician):
    response = analyze(api_client, case_reference="case-9")

    assert response.status_code == 202
    body = response.json()
    scan = Scan.objects.get(pk=body["id"])
    assert (scan.owner, scan.case_reference) == (clinician, "case-9")
    assert body["status"] == Prediction.Status.PENDING
    assert body["prediction"] is None
    assert response["Location"] == body["status_url"]
    assert api_client.get(body["status_url"]).json()["id"] == scan.pk


@pytest.mark.django_db
def test_wait_gives_up_after_the_cap_and_answers_202(api_client, settings):
    settings.API_MAX_WAIT_SECONDS = 0  # in a test transaction the task never runs

    response = analyze(api_client, "?wait=5")

    assert response.status_code == 202


@pytest.mark.django_db
@pytest.mark.parametrize("wait", ["31", "-1", "soon"])
def test_wait_out_of_range_is_a_400(api_client, wait):
    response = analyze(api_client, f"?wait={wait}")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert response.json()["detail"].startswith("wait:")
    assert not Scan.objects.exists()


@pytest.mark.django_db
def test_a_file_that_is_not_an_image_is_a_400_with_the_reason(api_client):
    response = analyze(api_client, image=image(b"%PDF-1.4 not an image", "report.pdf"))

    assert response.status_code == 400
    assert response.json()["error"] == "bad_image"
    assert "not an image we can read" in response.json()["detail"]
    assert not Scan.objects.exists()


@pytest.mark.django_db
def test_a_missing_image_field_is_a_400(api_client):
    response = api_client.post(ANALYZE, {"file": image()}, format="multipart")

    assert response.status_code == 400
    assert "named 'image'" in response.json()["detail"]


@pytest.mark.django_db
def test_two_images_in_one_request_are_refused(api_client):
    response = api_client.post(
        ANALYZE, {"image": [image(), image(name="b.png")]}, format="multipart"
    )

    assert response.status_code == 400
    assert "one image per request" in response.json()["detail"]
    assert not Scan.objects.exists()


@pytest.mark.django_db
def test_an_image_over_the_size_limit_is_a_413(api_client, settings):
    settings.MAX_UPLOAD_BYTES = 100

    response = analyze(api_client)

    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert not Scan.objects.exists()


@pytest.mark.django_db
def test_a_body_over_the_limit_is_refused_before_it_is_read(api_client, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    payload = b"x" * (2000 + 64 * 1024)

    response = api_client.post(ANALYZE, payload, content_type="application/octet-stream")

    assert response.status_code == 413


@pytest.mark.django_db
def test_json_instead_of_multipart_is_a_415(api_client):
    response = api_client.post(ANALYZE, {"image": "aGVsbG8="}, format="json")

    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


@pytest.mark.django_db
def test_no_token_is_a_401_that_names_the_scheme():
    response = analyze(APIClient())

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"] == "not_authenticated"


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Token nonsense", "Token a b", "Token \u00e9t\u00e9"])
def test_a_bad_token_is_a_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    response = analyze(client)

    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


@pytest.mark.django_db
def test_an_unapproved_account_gets_a_403(pending_user):
    response = analyze(client_with_token(pending_user))

    assert response.status_code == 403
    assert "not approved" in response.json()["detail"]
    assert not Scan.objects.exists()


@pytest.mark.django_db
def test_requests_beyond_the_rate_limit_get_a_429(api_client, other_api_client, settings):
    settings.API_RATE_LIMIT = "2/min"
    scans = reverse("api:scans")

    codes = [api_client.get(scans).status_code for _ in range(3)]

    assert codes == [200, 200, 429]
    limited = api_client.get(scans)
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["error"] == "throttled"
    assert other_api_client.get(scans).status_code == 200  # the limit is per token


@pytest.mark.django_db
def test_unknown_api_paths_are_json_404s(api_client):
    response = api_client.delete("/api/nothing/here")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
