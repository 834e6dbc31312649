from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from predictions.export import HEADER, csv_lines
from predictions.models import Prediction, Scan
from predictions.tests.history import make_scan

pytestmark = pytest.mark.django_db
EXPORT = reverse("predictions:export")
DASHBOARD = reverse("predictions:dashboard")


def exported(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(body, newline="")))


def test_export_is_a_streamed_utf8_csv_attachment(clinician, clinician_client):
    make_scan(clinician)

    response = clinician_client.get(EXPORT)

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="brainscan-history-')
    assert response["Cache-Control"] == "private, no-store"


def test_header_and_one_row_per_scan_with_every_column(clinician, clinician_client):
    uploaded = datetime(2025, 3, 4, 10, 30, 15, tzinfo=UTC)
    scan = make_scan(clinician, label="glioma", case="ward-3", uploaded_at=uploaded)

    response = clinician_client.get(EXPORT)
    body = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(body, newline="")))

    assert body.splitlines()[0].split(",") == [
        "id",
        "case_reference",
        "uploaded_at",
        "batch",
        "upload_order",
        "sha256",
        "status",
        "label",
        "p_glioma",
        "p_meningioma",
        "p_notumor",
        "p_pituitary",
        "tumour_probability",
        "risk",
        "model_version",
        "review_verdict",
        "reviewed_label",
        "review_note",
        "reviewer",
        "reviewed_at",
        "rejection_reason",
    ]
    assert rows == [
        {
            "id": str(scan.pk),
            "case_reference": "ward-3",
            "uploaded_at": "2025-03-04T10:30:15+00:00",
            "batch": str(scan.batch),
            "upload_order": "",
            "sha256": scan.sha256,
            "status": "done",
            "label": "glioma",
            "p_glioma": "0.910000",
            "p_meningioma": "0.050000",
            "p_notumor": "0.020000",
            "p_pituitary": "0.020000",
            "tumour_probability": "0.980000",
            "risk": "high",
            "model_version": "brainscan-test-1",
            "review_verdict": "",
            "reviewed_label": "",
            "review_note": "",
            "reviewer": "",
            "reviewed_at": "",
            "rejection_reason": "",
        }
    ]


def test_times_are_iso_8601_in_the_site_time_zone(clinician, clinician_client, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    make_scan(clinician, uploaded_at=datetime(2025, 7, 1, 8, 0, tzinfo=UTC))

    (row,) = exported(clinician_client.get(EXPORT))

    assert row["uploaded_at"] == "2025-07-01T10:00:00+02:00"


def test_rejected_and_reviewed_scans(clinician, clinician_client):
    rejected = make_scan(clinician, status=Prediction.Status.REJECTED)
    agreed = make_scan(clinician, label="pituitary", review_verdict="agree")
    corrected = make_scan(
        clinician, label="notumor", review_verdict="corrected", review_label="meningioma"
    )

    rows = {int(row["id"]): row for row in exported(clinician_client.get(EXPORT))}

    assert rows[rejected.pk]["status"] == "rejected"
    assert rows[rejected.pk]["label"] == rows[rejected.pk]["p_glioma"] == ""
    assert (rows[agreed.pk]["review_verdict"], rows[agreed.pk]["reviewed_label"]) == (
        "agree",
        "pituitary",
    )
    assert (rows[corrected.pk]["review_verdict"], rows[corrected.pk]["reviewed_label"]) == (
        "corrected",
        "meningioma",
    )


def test_export_holds_exactly_the_filtered_history(clinician, clinician_client):
    for n in range(30):
        make_scan(clinician, label="glioma" if n % 3 else "notumor", case=f"ward-{n % 2}")
    query = {"label": "glioma", "case": "ward-1"}

    rows = exported(clinician_client.get(EXPORT, query))
    page_ids = [s.pk for s in clinician_client.get(DASHBOARD, query).context["page"].object_list]

    assert [int(row["id"]) for row in rows] == page_ids  # same rows, same order
    assert {row["label"] for row in rows} == {"glioma"}
    assert {row["case_reference"] for row in rows} == {"ward-1"}
    assert len(rows) == 10


@pytest.mark.parametrize(
    ("case", "cell"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+41 cmd", "'+41 cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\r=1", "'\r=1"),
        ("ward=3", "ward=3"),
        ("Zürich-ß", "Zürich-ß"),
        # issue 15: what a spreadsheet runs once it normalises (NFKC) or drops a BOM
        ("\ufeff=1+1", "'\ufeff=1+1"),
        ("＝HYPERLINK(1)", "'＝HYPERLINK(1)"),
        ("＋1", "'＋1"),
        ("＠SUM(A1)", "'＠SUM(A1)"),
        ("﹦1", "'﹦1"),
        ("\u200b=1", "'\u200b=1"),
        ("\u00a0=1", "'\u00a0=1"),
        ("ｗａｒｄ", "ｗａｒｄ"),
    ],
)
def test_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised(
    clinician, clinician_client, case, cell
):
    make_scan(clinician, case=case)

    (row,) = exported(clinician_client.get(EXPORT))

    assert row["case_reference"] == cell


def test_another_clinicians_scans_are_never_exported(
    clinician, other_clinician, clinician_client, other_client
):
    mine = make_scan(clinician, case="mine")
    theirs = make_scan(other_clinician, case="theirs")

    mine_rows = exported(clinician_client.get(EXPORT))
    their_rows = exported(other_client.get(EXPORT))

    assert [int(r["id"]) for r in mine_rows] == [mine.pk]
    assert [int(r["id"]) for r in their_rows] == [theirs.pk]


def test_pages_cover_every_row_once_in_order_across_equal_times(clinician):
    same_time = datetime(2025, 1, 1, tzinfo=UTC)
    for n in range(7):
        make_scan(clinician, uploaded_at=same_time + timedelta(days=n % 3))
    expected = list(Scan.objects.order_by("-uploaded_at", "-pk").values_list("pk", flat=True))

    lines = list(csv_lines(Scan.objects.all(), chunk_size=2))
    rows = list(csv.reader(io.StringIO(b"".join(lines).decode("utf-8"), newline="")))

    assert rows[0] == HEADER
    assert [int(row[0]) for row in rows[1:]] == expected
    assert len(lines) == 1 + 4  # header, then one block per page of two rows


def test_export_needs_an_approved_clinician(pending_user, client):
    client.force_login(pending_user)
    assert client.get(EXPORT).status_code == 403
    client.logout()
    assert client.get(EXPORT).status_code == 302  # to the sign-in page
