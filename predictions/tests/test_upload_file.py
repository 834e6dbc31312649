"""The upload page's one-file-per-request endpoint: same validation, one shared batch."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.templatetags.static import static
from django.urls import reverse

from predictions.models import Prediction, Scan
from predictions.tests.history import make_scan
from predictions.tests.images import jpeg_bytes, png_bytes

pytestmark = pytest.mark.django_db
UPLOAD_FILE = reverse("predictions:upload-file")


def send(client, data: bytes, *, batch: uuid.UUID, name: str = "slice.png", case: str = ""):
    return client.post(
        UPLOAD_FILE,
        {"images": SimpleUploadedFile(name, data), "batch": str(batch), "case_reference": case},
    )


def test_files_sent_one_by_one_join_one_batch(
    clinician_client, fake_engine, django_capture_on_commit_callbacks
):
    batch = uuid.uuid4()

    with django_capture_on_commit_callbacks(execute=True):
        first = send(clinician_client, png_bytes(), batch=batch, case="ward-2")
        second = send(
            clinician_client, jpeg_bytes(seed=3), batch=batch, name="b.jpg", case="ward-2"
        )

    scans = list(Scan.objects.order_by("pk"))
    assert (first.status_code, second.status_code) == (201, 201)
    assert {scan.batch for scan in scans} == {batch}
    assert {scan.case_reference for scan in scans} == {"ward-2"}
    assert first.json() == {
        "batch": str(batch),
        "batch_url": reverse("predictions:batch", args=[batch]),
        "scans": [{"id": scans[0].pk, "url": reverse("predictions:detail", args=[scans[0].pk])}],
    }
    assert {scan.prediction.status for scan in scans} == {Prediction.Status.DONE}
    batch_page = clinician_client.get(reverse("predictions:batch", args=[batch]))
    assert [s.pk for s in batch_page.context["scans"]] == [s.pk for s in scans]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The submitted file is empty."),
        (b"%PDF-1.4 not a slice", "This file is not an image we can read"),
        (png_bytes(128)[:200], "The image is damaged or incomplete"),
    ],
)
def test_a_refused_file_gets_the_servers_own_message_and_stores_nothing(
    clinician_client, private_root, data, message
):
    response = send(clinician_client, data, batch=uuid.uuid4(), name="Smith_John.png")

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
    assert "Smith" not in response.json()["error"]
    assert not Scan.objects.exists()
    assert [p for p in private_root.rglob("*") if p.is_file()] == []


def test_a_too_long_case_reference_names_the_field(clinician_client):
    response = send(clinician_client, png_bytes(), batch=uuid.uuid4(), case="x" * 101)

    assert response.status_code == 400
    assert response.json()["error"].startswith("Case reference (optional): Ensure this value")


def test_a_missing_batch_is_refused(clinician_client):
    response = clinician_client.post(
        UPLOAD_FILE, {"images": SimpleUploadedFile("a.png", png_bytes())}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "Batch: This field is required."


def test_nobody_can_add_files_to_another_clinicians_batch(clinician, other_client):
    theirs = make_scan(clinician)

    response = send(other_client, png_bytes(), batch=theirs.batch)

    assert response.status_code == 400
    assert "belongs to another account" in response.json()["error"]
    assert Scan.objects.count() == 1


def test_only_approved_clinicians_may_upload(pending_user, reviewer_client, client):
    client.force_login(pending_user)

    assert send(client, png_bytes(), batch=uuid.uuid4()).status_code == 403
    assert send(reviewer_client, png_bytes(), batch=uuid.uuid4()).status_code == 403
    assert not Scan.objects.exists()


def test_the_endpoint_only_takes_posts(clinician_client):
    assert clinician_client.get(UPLOAD_FILE).status_code == 405


def test_upload_page_offers_drag_and_drop_with_the_limits(clinician_client, settings):
    settings.MAX_FILES_PER_UPLOAD = 60

    html = clinician_client.get(reverse("predictions:upload")).content.decode()

    assert f'data-file-url="{UPLOAD_FILE}"' in html
    assert 'data-max-files="60"' in html
    assert 'id="dropzone"' in html
    assert static("js/upload.js") in html  # hashed under the production profile
    assert "Do not type patient names." in html
