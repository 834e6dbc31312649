"""The audit log after a deletion from the result page: that it happened, by whom, of which
scan id; nothing of the image, its file names or the case reference."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from predictions.models import Scan
from predictions.tests.dicom_files import build_dicom, gradient
from predictions.tests.leaks import assert_no_markers, database_dump

pytestmark = pytest.mark.django_db


def test_deleting_from_the_result_page_leaves_only_an_audit_event(
    clinician, clinician_client, fake_engine, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        clinician_client.post(
            reverse("predictions:upload"),
            {
                "images": [SimpleUploadedFile("x.dcm", build_dicom(gradient()))],
                "case_reference": "ward-7-bed-3",
            },
        )
    scan = Scan.objects.get()
    names = [scan.image.name, scan.prediction.heatmap.name, scan.prediction.overlay.name]

    with django_capture_on_commit_callbacks(execute=True):
        clinician_client.post(reverse("predictions:delete", args=[scan.pk]))

    event = AuditEvent.objects.get(action=AuditEvent.Action.SCAN_DELETED)
    assert (event.actor, event.object_type, event.object_id) == (clinician, "scan", str(scan.pk))
    dump = database_dump()
    assert not any(name in dump for name in names)
    assert "ward-7-bed-3" not in dump
    assert_no_markers("the database", dump)
