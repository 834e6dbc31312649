"""The audit log records study uploads, views, exports, refusals and deletions by id."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from studies.models import Study
from studies.tests.conftest import uploads
from studies.tests.series_files import series_files

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


def test_study_events_are_audited(
    clinician_client, other_client, study_engine, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        clinician_client.post(
            reverse("studies:upload"),
            {"files": uploads(series_files("axial", slices=4, spacing=6))},
        )
    study = Study.objects.get()
    clinician_client.get(reverse("studies:detail", args=[study.pk]))
    clinician_client.get(reverse("studies:slice-image", args=[study.pk, 0]))  # own: not written
    clinician_client.get(reverse("studies:slices-csv", args=[study.pk]))
    other_client.get(reverse("studies:detail", args=[study.pk]))  # 404
    with django_capture_on_commit_callbacks(execute=True):
        clinician_client.post(reverse("studies:delete", args=[study.pk]))

    events = [
        (e.action, e.object_type, e.object_id)
        for e in AuditEvent.objects.filter(object_type="study").order_by("pk")
    ]
    key = str(study.pk)
    assert events == [
        (Action.SCAN_UPLOADED, "study", key),
        (Action.RESULT_VIEWED, "study", key),
        (Action.CSV_EXPORTED, "study", key),
        (Action.ACCESS_REFUSED, "study", key),
        (Action.SCAN_DELETED, "study", key),
    ]
