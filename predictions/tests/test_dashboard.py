from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from predictions.models import Prediction
from predictions.tests.history import make_scan
from predictions.views.scans import PAGE_SIZE

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("predictions:dashboard")


def listed_ids(response) -> list[int]:
    return [scan.pk for scan in response.context["page"].object_list]


def utc(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def at(day: int, hour: int = 12) -> datetime:
    return utc(day, hour)


def test_history_lists_own_scans_newest_first(clinician, clinician_client):
    old = make_scan(clinician, uploaded_at=at(1))
    new = make_scan(clinician, uploaded_at=at(3))
    middle = make_scan(clinician, uploaded_at=at(2))

    response = clinician_client.get(DASHBOARD)

    assert response.status_code == 200
    assert listed_ids(response) == [new.pk, middle.pk, old.pk]
    assert reverse("predictions:detail", args=[new.pk]).encode() in response.content


def test_history_never_shows_another_clinicians_scans(
    clinician, other_clinician, clinician_client, reviewer, reviewer_client
):
    mine = make_scan(clinician, case="mine-1")
    theirs = make_scan(other_clinician, case="theirs-1")
    make_scan(reviewer, case="rita-1")

    mine_response = clinician_client.get(DASHBOARD)
    reviewer_response = reviewer_client.get(DASHBOARD)  # reviewers see all scans in the admin only

    assert listed_ids(mine_response) == [mine.pk]
    assert b"theirs-1" not in mine_response.content
    assert mine_response.context["counts"]["total"] == 1
    assert theirs.pk not in listed_ids(reviewer_response)
    assert b"mine-1" not in reviewer_response.content


def test_history_is_paginated_and_page_links_keep_the_filters(clinician, clinician_client):
    start = at(1)
    for n in range(PAGE_SIZE + 2):
        make_scan(clinician, case="ward-7", uploaded_at=start + timedelta(minutes=n))
    make_scan(clinician, case="other")

    first = clinician_client.get(DASHBOARD, {"case": "ward-7"})
    second = clinician_client.get(DASHBOARD, {"case": "ward-7", "page": 2})

    assert len(listed_ids(first)) == PAGE_SIZE
    assert len(listed_ids(second)) == 2
    assert set(listed_ids(first)).isdisjoint(listed_ids(second))
    assert 'href="?case=ward-7&amp;page=2"' in first.content.decode()
    assert first.context["counts"]["total"] == PAGE_SIZE + 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"label": "meningioma"}, {"meningioma"}),
        ({"risk": "high"}, {"glioma"}),
        ({"status": "rejected"}, {"rejected"}),
        ({"review": "unreviewed"}, {"meningioma", "rejected"}),
        ({"review": "agree"}, {"glioma"}),
        ({"review": "corrected"}, {"notumor"}),
        ({"case": "WARD"}, {"glioma", "notumor"}),
        ({"label": "glioma", "case": "ward"}, {"glioma"}),
    ],
)
def test_each_filter_narrows_the_history(clinician, clinician_client, query, expected):
    scans = {
        "glioma": make_scan(clinician, label="glioma", case="ward-3", review_verdict="agree"),
        "meningioma": make_scan(clinician, label="meningioma", case="icu-1"),
        "notumor": make_scan(
            clinician,
            label="notumor",
            case="Ward-9",
            review_verdict="corrected",
            review_label="glioma",
        ),
        "rejected": make_scan(clinician, status=Prediction.Status.REJECTED, case="x"),
    }

    response = clinician_client.get(DASHBOARD, query)

    assert set(listed_ids(response)) == {scans[name].pk for name in expected}
    assert response.context["counts"]["total"] == len(expected)


def test_date_range_includes_both_whole_days_in_the_site_time_zone(
    clinician, clinician_client, settings
):
    settings.TIME_ZONE = "Europe/Berlin"  # UTC+1 in early March
    make_scan(clinician, uploaded_at=utc(1, 22, 30))  # 23:30 on the 1st in Berlin
    first_day = make_scan(clinician, uploaded_at=utc(1, 23, 30))  # 00:30 on the 2nd
    last_day = make_scan(clinician, uploaded_at=utc(4, 22, 30))  # 23:30 on the 4th
    make_scan(clinician, uploaded_at=utc(4, 23, 30))  # 00:30 on the 5th

    response = clinician_client.get(DASHBOARD, {"date_from": "2025-03-02", "date_to": "2025-03-04"})

    assert listed_ids(response) == [last_day.pk, first_day.pk]


def test_counts_give_each_class_and_risk_of_the_filtered_scans(clinician, clinician_client):
    for label in ("glioma", "glioma", "pituitary", "notumor", "meningioma"):
        make_scan(clinician, label=label, case="a")
    make_scan(clinician, label="glioma", case="b")
    make_scan(clinician, status=Prediction.Status.FAILED, case="a")

    counts = clinician_client.get(DASHBOARD, {"case": "a"}).context["counts"]

    assert counts["total"] == 6
    assert {value: n for value, _, n in counts["labels"]} == {
        "glioma": 2,
        "meningioma": 1,
        "notumor": 1,
        "pituitary": 1,
    }
    assert {value: n for value, _, n in counts["risks"]} == {"low": 1, "medium": 1, "high": 3}


def test_invalid_filter_is_reported_and_filters_nothing(clinician, clinician_client):
    scan = make_scan(clinician)

    response = clinician_client.get(
        DASHBOARD, {"label": "brain-eating-amoeba", "date_from": "yesterday"}
    )

    assert response.status_code == 200
    assert listed_ids(response) == [scan.pk]
    assert "Select a valid choice" in response.content.decode()
    assert "Enter a valid date" in response.content.decode()


def test_end_date_before_start_date_is_an_error(clinician, clinician_client):
    make_scan(clinician, uploaded_at=at(2))

    response = clinician_client.get(DASHBOARD, {"date_from": "2025-03-05", "date_to": "2025-03-01"})

    assert "The end date is before the start date." in response.content.decode()


def test_a_clinician_awaiting_approval_cannot_see_the_history(pending_user, client):
    client.force_login(pending_user)
    assert client.get(DASHBOARD).status_code == 403


def test_dashboard_query_count_does_not_grow_with_the_page(clinician, clinician_client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as context:
            assert clinician_client.get(DASHBOARD).status_code == 200
        return len(context.captured_queries)

    make_scan(clinician)
    one = queries()
    for _ in range(PAGE_SIZE + 5):
        make_scan(clinician)

    assert queries() == one
