from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from predictions.models import Prediction, Scan
from predictions.tests.images import image_bytes, jpeg_bytes, png_bytes

pytestmark = pytest.mark.django_db
UPLOAD = reverse("predictions:upload")


def upload(client, *files: SimpleUploadedFile, case_reference: str = ""):
    return client.post(UPLOAD, {"images": list(files), "case_reference": case_reference})


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_valid_upload_creates_a_scan_and_runs_the_analysis(
    clinician_client, fake_engine, private_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(clinician_client, SimpleUploadedFile("Smith_John_1961.png", png_bytes()))

    scan = Scan.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("predictions:detail", args=[scan.pk])
    assert scan.source_format == "PNG"
    assert (scan.width, scan.height) == (64, 64)
    assert len(scan.sha256) == 64
    assert scan.prediction.status == Prediction.Status.DONE  # embedded default: runs in-process
    assert fake_engine.calls == 1


def test_stored_file_name_is_random_not_the_uploaded_name(
    clinician_client, fake_engine, private_root
):
    upload(clinician_client, SimpleUploadedFile("Smith_John_1961.png", png_bytes()))

    scan = Scan.objects.get()
    assert "Smith" not in scan.image.name
    assert scan.image.name.startswith(f"scans/{scan.owner_id}/")
    assert all("Smith" not in str(p) for p in files_under(private_root))


def test_batch_upload_redirects_to_the_batch_page(clinician_client, fake_engine):
    files = [SimpleUploadedFile(f"s{i}.jpg", jpeg_bytes(seed=i)) for i in range(3)]

    response = upload(clinician_client, *files, case_reference="  case-17 ")

    scans = list(Scan.objects.all())
    assert len(scans) == 3
    assert len({s.batch for s in scans}) == 1
    assert {s.case_reference for s in scans} == {"case-17"}
    assert response["Location"] == reverse("predictions:batch", args=[scans[0].batch])


def truncated_png() -> bytes:
    return png_bytes(128)[:200]


def bomb_png() -> bytes:
    """A small file whose header claims 20 000 × 20 000 pixels."""
    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.png", b"", "empty"),
        ("notes.png", b"<html><script>alert(1)</script></html>", "not an image"),
        ("scan.png", truncated_png(), "damaged"),
        ("huge.png", bomb_png(), "pixels"),
        ("scan.gif", image_bytes("GIF"), "not a supported image"),
        ("scan.bmp", image_bytes("BMP"), "not a supported image"),
    ],
)
def test_bad_upload_gives_a_form_error_and_leaves_nothing_behind(
    clinician_client, fake_engine, private_root, name, data, message
):
    response = upload(clinician_client, SimpleUploadedFile(name, data))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Scan.objects.count() == 0
    assert files_under(private_root) == []
    assert fake_engine.calls == 0


def test_one_bad_file_in_a_batch_stores_none_of_it(clinician_client, fake_engine, private_root):
    response = upload(
        clinician_client,
        SimpleUploadedFile("good.png", png_bytes()),
        SimpleUploadedFile("bad.png", b"not an image"),
    )

    assert response.status_code == 400
    assert "File 2 (bad.png)" in response.content.decode()
    assert Scan.objects.count() == 0
    assert files_under(private_root) == []


def test_file_over_the_size_cap_is_refused(clinician_client, fake_engine, settings):
    settings.MAX_UPLOAD_BYTES = 1000

    response = upload(clinician_client, SimpleUploadedFile("big.png", png_bytes(256)))

    assert response.status_code == 400
    assert "larger than" in response.content.decode()
    assert Scan.objects.count() == 0


def test_database_failure_removes_the_files_already_written(
    clinician_client, fake_engine, private_root, monkeypatch
):
    from django.db import DatabaseError

    def fail(*args, **kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr("predictions.models.Prediction.objects.create", fail)

    with pytest.raises(DatabaseError):
        upload(clinician_client, SimpleUploadedFile("a.png", png_bytes()))

    assert Scan.objects.count() == 0
    assert files_under(private_root) == []


def test_tasks_are_queued_only_after_the_commit(
    clinician, django_capture_on_commit_callbacks, monkeypatch
):
    from predictions.services import submit_scans
    from predictions.uploads import validate_upload

    sent: list[int] = []
    monkeypatch.setattr("predictions.tasks.run_prediction.delay", sent.append)
    upload_data = validate_upload(png_bytes(), max_bytes=10**6, max_pixels=10**6)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        [prediction] = submit_scans(clinician, [upload_data])
        assert sent == []

    for callback in callbacks:
        callback()
    assert sent == [prediction.pk]


def test_unreachable_broker_leaves_the_row_pending_for_the_sweep(clinician, monkeypatch):
    from kombu.exceptions import OperationalError

    from predictions.tasks import enqueue_prediction
    from predictions.tests.factories import PredictionFactory

    def broker_down(prediction_id):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr("predictions.tasks.run_prediction.delay", broker_down)
    prediction = PredictionFactory(scan__owner=clinician)

    assert enqueue_prediction(prediction.pk) is False
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.PENDING
