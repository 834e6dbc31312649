"""DICOM through the REST API: one slice per request, no header value in any answer, and
DELETE takes the files along while the audit log keeps only that it happened."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from api.tests.conftest import client_with_token
from audit.models import AuditEvent
from predictions.models import Prediction, Scan
from predictions.tests.dicom_files import build_dicom, ct_example_path, gradient, mr_example_path
from predictions.tests.leaks import assert_no_markers, database_dump, files_under

pytestmark = pytest.mark.django_db
ANALYZE = reverse("api:analyze")


def analyze(client, data: bytes, capture):
    with capture(execute=True):  # the analysis queued on commit runs, as in production
        upload = SimpleUploadedFile("IM0001", data, "application/dicom")
        return client.post(ANALYZE, {"image": upload}, format="multipart")


def test_pydicom_mr_example_gets_a_result_through_the_api(
    clinician, fake_engine, django_capture_on_commit_callbacks
):
    client = client_with_token(clinician)

    response = analyze(client, mr_example_path().read_bytes(), django_capture_on_commit_callbacks)

    assert response.status_code == 202
    scan = Scan.objects.get(pk=response.json()["id"])
    assert scan.source_format == "DICOM"
    assert scan.prediction.status == Prediction.Status.DONE
    result = client.get(reverse("api:scan-detail", args=[scan.pk])).json()
    assert result["status"] == "done"
    assert result["prediction"] == "Glioma"


def test_pydicom_ct_example_is_refused_through_the_api(
    clinician, fake_engine, django_capture_on_commit_callbacks
):
    response = analyze(
        client_with_token(clinician),
        ct_example_path().read_bytes(),
        django_capture_on_commit_callbacks,
    )

    assert response.status_code == 400
    assert "is a CT image; only MR" in json.dumps(response.json())
    assert Scan.objects.count() == 0
    assert fake_engine.calls == 0


def test_the_api_takes_one_slice_per_request_and_says_so_for_a_series(
    clinician, fake_engine, django_capture_on_commit_callbacks
):
    series = build_dicom(np.stack([gradient()] * 3), frames=3)

    response = analyze(client_with_token(clinician), series, django_capture_on_commit_callbacks)

    assert response.status_code == 400
    assert "holds 3 frames" in json.dumps(response.json())
    assert Scan.objects.count() == 0


def test_api_answers_and_storage_hold_no_header_value(
    clinician, fake_engine, private_root: Path, django_capture_on_commit_callbacks
):
    client = client_with_token(clinician)

    created = analyze(client, build_dicom(gradient()), django_capture_on_commit_callbacks)
    scan_id = created.json()["id"]
    answers = [
        created.content,
        client.get(reverse("api:scan-detail", args=[scan_id])).content,
        client.get(reverse("api:scans")).content,
    ]

    assert created.status_code == 202
    for answer in answers:
        assert_no_markers("an API answer", answer)
    assert_no_markers("the database", database_dump())
    for name, content in files_under(private_root).items():
        assert_no_markers(name, content)


def test_api_delete_removes_the_files_and_the_audit_log_keeps_only_ids(
    clinician, fake_engine, private_root: Path, django_capture_on_commit_callbacks
):
    client = client_with_token(clinician)
    scan_id = analyze(client, build_dicom(gradient()), django_capture_on_commit_callbacks).json()[
        "id"
    ]
    assert len(files_under(private_root)) == 3  # slice, heatmap, overlay

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(reverse("api:scan-detail", args=[scan_id]))

    assert response.status_code == 204
    assert not Scan.objects.filter(pk=scan_id).exists()
    assert files_under(private_root) == {}
    event = AuditEvent.objects.get(action=AuditEvent.Action.SCAN_DELETED)
    assert event.object_id == str(scan_id)
    assert event.actor == clinician
    assert set(event.detail) <= {"owner_id"}
