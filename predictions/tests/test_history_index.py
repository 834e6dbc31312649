"""The history's counts and pages read predictions alone, through their copies of each scan's
owner and upload time: the copies are filled on every path that creates a prediction, by the
migration for older rows, and the dashboard's queries do not join the scans."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from predictions.models import Prediction
from predictions.tests.history import make_scan
from predictions.tests.images import png_bytes

DASHBOARD = reverse("predictions:dashboard")
BEFORE = [("predictions", "0001_initial")]
AFTER = [("predictions", "0002_history_index_columns")]


def copies_match() -> bool:
    rows = Prediction.objects.all()
    same = rows.filter(owner=F("scan__owner"), uploaded_at=F("scan__uploaded_at"))
    return rows.exists() and same.count() == rows.count()


@pytest.mark.django_db
def test_uploads_copy_the_scans_owner_and_upload_time(
    clinician_client, fake_engine, django_capture_on_commit_callbacks
):
    files = [SimpleUploadedFile(f"slice{n}.png", png_bytes(seed=n)) for n in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        response = clinician_client.post(reverse("predictions:upload"), {"images": files})

    assert response.status_code == 302
    assert Prediction.objects.count() == 3
    assert copies_match()


@pytest.mark.django_db
def test_factory_rows_copy_the_scans_owner_and_upload_time(clinician, other_clinician):
    make_scan(clinician, uploaded_at=datetime(2025, 3, 1, tzinfo=UTC))
    make_scan(other_clinician)

    assert copies_match()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [{}, {"page": "2"}, {"label": "glioma", "risk": "high"}, {"date_from": "2025-01-01"}],
)
def test_counts_and_page_ids_do_not_join_the_scans(clinician, clinician_client, query):
    for _ in range(30):
        make_scan(clinician)

    with CaptureQueriesContext(connection) as context:
        response = clinician_client.get(DASHBOARD, query)

    assert response.status_code == 200
    history = [q["sql"] for q in context.captured_queries if "predictions_prediction" in q["sql"]]
    counts = [sql for sql in history if "GROUP BY" in sql]
    ids = [  # the page's ids (not the few "reviewed since your last visit", by reviewed_at)
        sql
        for sql in history
        if "LIMIT" in sql and "`scan_id`" in sql.replace('"', "`") and "reviewed_at" not in sql
    ]
    assert len(counts) == 1
    assert len(ids) == 1
    assert "predictions_scan" not in counts[0] + ids[0]


@pytest.mark.django_db
def test_only_the_case_filter_reads_the_scans_for_its_counts(clinician, clinician_client):
    make_scan(clinician, case="ward-3")
    make_scan(clinician, case="icu-1")

    with CaptureQueriesContext(connection) as context:
        response = clinician_client.get(DASHBOARD, {"case": "WARD"})

    assert response.context["counts"]["total"] == 1
    counts = [q["sql"] for q in context.captured_queries if "GROUP BY" in q["sql"]]
    assert len(counts) == 1
    assert "predictions_scan" in counts[0]


@pytest.mark.django_db(transaction=True)
def test_migration_fills_the_copies_of_existing_predictions():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        user = old.get_model("accounts", "User").objects.create(email="old@example.org")
        uploaded = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
        Scan = old.get_model("predictions", "Scan")
        for n in range(3):
            scan = Scan.objects.create(
                owner=user,
                sha256=f"{n:064d}",
                source_format="PNG",
                content_type="image/png",
                width=8,
                height=8,
                file_size=1,
                uploaded_at=uploaded,
            )
            old.get_model("predictions", "Prediction").objects.create(scan=scan)
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert Prediction.objects.count() == 3
    assert set(Prediction.objects.values_list("owner__email", "uploaded_at")) == {
        ("old@example.org", uploaded)
    }
    assert copies_match()
