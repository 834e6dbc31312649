"""A reviewer's correction is the headline (issue 14): result page and print report, history
column and filter, and every review fact in the CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts.tests.factories import make_reviewer_user
from predictions.models import Prediction
from predictions.tests.history import make_scan

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("predictions:dashboard")
EXPORT = reverse("predictions:export")
REVIEWED_AT = datetime(2025, 4, 2, 9, 15, tzinfo=UTC)


@pytest.fixture
def radiologist(db):
    return make_reviewer_user(email="rad@example.org", full_name="Dr Rita Radiologist")


def corrected(owner, reviewer, **extra):
    return make_scan(
        owner,
        label="meningioma",
        review_verdict="corrected",
        review_label="glioma",
        review_note="Enhancing rim, typical of glioma.",
        reviewed_by=reviewer,
        reviewed_at=REVIEWED_AT,
        **extra,
    )


def html_of(client, url) -> str:
    return re.sub(r"\s+", " ", client.get(url).content.decode())


def test_a_correction_heads_the_result_page_with_who_and_when(
    clinician, clinician_client, radiologist, settings
):
    settings.TIME_ZONE = "UTC"
    scan = corrected(clinician, radiologist)

    html = html_of(clinician_client, reverse("predictions:detail", args=[scan.pk]))

    headline = html[html.index('id="review-headline"') :]
    assert 'Reviewer: Glioma <span class="ai-said">(AI said: Meningioma)</span>' in headline
    assert "Dr Rita Radiologist" in headline
    assert "2025-04-02" in headline
    assert "Enhancing rim, typical of glioma." in headline
    # the headline comes before the AI's own result, and is printed (not .no-print)
    assert html.index('id="review-headline"') < html.index("Most likely class")
    section = html[html.rindex("<section", 0, html.index('id="review-headline"')) :]
    assert "no-print" not in section[: section.index(">")]


def test_an_agreement_heads_the_page_too(clinician, clinician_client, radiologist):
    scan = make_scan(
        clinician,
        label="glioma",
        review_verdict="agree",
        reviewed_by=radiologist,
        reviewed_at=REVIEWED_AT,
    )

    html = html_of(clinician_client, reverse("predictions:detail", args=[scan.pk]))

    assert 'Reviewer: Glioma <span class="ai-said">(agrees with the AI)</span>' in html


def test_a_removed_reviewer_account_still_reads_sensibly(clinician, clinician_client):
    scan = corrected(clinician, None)

    html = html_of(clinician_client, reverse("predictions:detail", args=[scan.pk]))

    assert "a reviewer whose account was removed" in html


def test_the_history_shows_the_correction_and_filters_reviewed_scans(
    clinician, clinician_client, radiologist
):
    fixed = corrected(clinician, radiologist)
    agreed = make_scan(clinician, review_verdict="agree", reviewed_by=radiologist)
    make_scan(clinician)

    html = html_of(clinician_client, DASHBOARD)
    reviewed = clinician_client.get(DASHBOARD, {"review": "reviewed"})

    assert '<strong>Corrected: Glioma</strong> <span class="muted">(AI: Meningioma)</span>' in html
    assert '<th scope="col">Review</th>' in html
    listed = {s.pk for s in reviewed.context["page"].object_list}
    assert listed == {fixed.pk, agreed.pk}
    assert reviewed.context["counts"]["total"] == 2


def test_the_csv_holds_every_review_fact_and_the_rejection_reason(
    clinician, clinician_client, radiologist, settings
):
    settings.TIME_ZONE = "UTC"
    fixed = corrected(clinician, radiologist)
    refused = make_scan(clinician, status=Prediction.Status.REJECTED)

    body = b"".join(clinician_client.get(EXPORT).streaming_content).decode("utf-8")
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(body, newline=""))}

    row = rows[fixed.pk]
    assert row["review_verdict"] == "corrected"
    assert row["reviewed_label"] == "glioma"
    assert row["review_note"] == "Enhancing rim, typical of glioma."
    assert row["reviewer"] == "Dr Rita Radiologist"
    assert row["reviewed_at"] == "2025-04-02T09:15:00+00:00"
    assert row["rejection_reason"] == ""
    assert rows[refused.pk]["rejection_reason"] == "This does not look like a brain MRI slice."
    assert rows[refused.pk]["reviewer"] == ""
