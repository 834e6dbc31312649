from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from accounts.roles import approve_clinician
from api.tests.conftest import client_with_token
from predictions.models import Prediction, Scan
from predictions.tasks import run_prediction
from predictions.tests.factories import PredictionFactory
from predictions.tests.fakes import REJECTED

pytestmark = pytest.mark.django_db
ID_ENDPOINTS = ["api:scan-detail", "api:scan-image", "api:overlay-image", "api:heatmap-image"]


@pytest.fixture
def done_scan(clinician, fake_engine) -> Scan:
    prediction = PredictionFactory.create(scan__owner=clinician)
    run_prediction(prediction.pk)
    return Scan.objects.select_related("prediction").get(pk=prediction.scan_id)


def stored(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_list_holds_only_the_callers_scans_newest_first(api_client, clinician, other_clinician):
    mine = [PredictionFactory(scan__owner=clinician).scan_id for _ in range(3)]
    PredictionFactory(scan__owner=other_clinician)

    body = api_client.get(reverse("api:scans")).json()

    assert body["count"] == 3
    assert [item["id"] for item in body["results"]] == sorted(mine, reverse=True)


def test_list_is_paginated(api_client, clinician):
    for _ in range(27):
        PredictionFactory(scan__owner=clinician)

    first = api_client.get(reverse("api:scans")).json()
    second = api_client.get(first["next"]).json()

    assert (len(first["results"]), len(second["results"])) == (25, 2)
    assert second["next"] is None
    assert api_client.get(reverse("api:scans") + "?page=9").status_code == 404


def test_detail_of_a_done_scan(api_client, done_scan):
    body = api_client.get(reverse("api:scan-detail", args=[done_scan.pk])).json()

    assert body["prediction"] == "Glioma"
    assert body["label"] == "glioma"
    assert body["finished"] is True
    assert body["review"] is None


def test_rejected_scan_says_why_and_has_no_prediction(api_client, clinician, fake_engine):
    fake_engine.result = REJECTED
    prediction = PredictionFactory(scan__owner=clinician)
    run_prediction(prediction.pk)

    body = api_client.get(reverse("api:scan-detail", args=[prediction.scan_id])).json()

    assert body["status"] == Prediction.Status.REJECTED
    assert body["prediction"] is None
    assert body["gate"]["accepted"] is False
    assert "brain MRI" in body["error"]
    assert body["heatmap_url"] is None


@pytest.mark.parametrize("name", ["api:scan-image", "api:overlay-image", "api:heatmap-image"])
def test_owner_downloads_images_with_the_token(api_client, done_scan, name):
    response = api_client.get(reverse(name, args=[done_scan.pk]), HTTP_ACCEPT="image/png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


PRIVATE_FILE_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


@pytest.mark.parametrize(
    ("name", "filename"),
    [
        ("scan-image", "scan-{pk}.png"),
        ("overlay-image", "scan-{pk}-gradcam-overlay.png"),
        ("heatmap-image", "scan-{pk}-gradcam-heatmap.png"),
    ],
)
def test_api_and_web_send_the_same_private_file_headers(
    api_client, clinician_client, done_scan, name, filename
):
    api = api_client.get(reverse(f"api:{name}", args=[done_scan.pk]), HTTP_ACCEPT="image/png")
    web = clinician_client.get(reverse(f"predictions:{name}", args=[done_scan.pk]))

    disposition = f'inline; filename="{filename.format(pk=done_scan.pk)}"'
    for response in (api, web):
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"] == disposition
        for header, value in PRIVATE_FILE_HEADERS.items():
            assert response[header] == value


@pytest.mark.parametrize("name", ID_ENDPOINTS)
def test_another_clinicians_scan_is_404_on_every_endpoint(other_api_client, done_scan, name):
    response = other_api_client.get(reverse(name, args=[done_scan.pk]))

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_reviewer_token_sees_only_its_own_scans_too(reviewer, done_scan):
    approve_clinician(reviewer)

    response = client_with_token(reviewer).get(reverse("api:scan-detail", args=[done_scan.pk]))

    assert response.status_code == 404


def test_another_clinician_cannot_delete(other_api_client, done_scan):
    response = other_api_client.delete(reverse("api:scan-detail", args=[done_scan.pk]))

    assert response.status_code == 404
    assert Scan.objects.filter(pk=done_scan.pk).exists()


def test_delete_removes_the_rows_and_every_file(
    api_client, done_scan, private_root, django_capture_on_commit_callbacks
):
    assert len(stored(private_root)) == 3  # slice, heatmap, overlay

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.delete(reverse("api:scan-detail", args=[done_scan.pk]))

    assert response.status_code == 204
    assert not Scan.objects.filter(pk=done_scan.pk).exists()
    assert not Prediction.objects.filter(scan_id=done_scan.pk).exists()
    assert stored(private_root) == []
    assert api_client.get(reverse("api:scan-detail", args=[done_scan.pk])).status_code == 404


def test_ids_beyond_the_database_range_are_404(api_client):
    response = api_client.get(f"/api/scans/{2**70}")

    assert response.status_code == 404
