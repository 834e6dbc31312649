"""Issue 14, "History": reviews since the last visit, sortable columns, thumbnails, times with
their zone, a link back to each batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone

from predictions.reviews import record_review
from predictions.tests.history import make_scan

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("predictions:dashboard")


def at(day: int) -> datetime:
    return datetime(2025, 3, day, 12, tzinfo=UTC)


def ids(response) -> list[int]:
    return [scan.pk for scan in response.context["page"].object_list]


def test_reviews_since_the_last_visit_are_announced_once(clinician, clinician_client, reviewer):
    seen = make_scan(clinician, label="glioma")
    record_review(seen.prediction, reviewer, verdict="agree")
    clinician_client.get(DASHBOARD)  # a visit: that review is no longer new

    corrected = make_scan(clinician, label="meningioma", case="ref-7")
    record_review(corrected.prediction, reviewer, verdict="corrected", label="glioma")
    html = clinician_client.get(DASHBOARD).content.decode()
    assert "1 scan was reviewed since your last visit" in html
    assert "corrected to Glioma</strong> (AI: Meningioma)" in html
    assert html.count("new review</span>") == 1  # its row is marked
    assert f"Scan {seen.pk}</a>:" not in html

    again = clinician_client.get(DASHBOARD).content.decode()
    assert "since your last visit" not in again


def test_new_reviews_count_beyond_the_ten_listed(clinician, clinician_client, reviewer):
    clinician.reviews_seen_at = timezone.now() - timedelta(days=1)
    clinician.save()
    for _ in range(12):
        record_review(make_scan(clinician).prediction, reviewer, verdict="agree")
    html = clinician_client.get(DASHBOARD).content.decode()
    assert "12 scans were reviewed since your last visit" in html
    assert 'href="?review=reviewed">All reviewed scans' in html


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["pit-new", "notumor", "glioma-old"]),
        ("oldest", ["glioma-old", "notumor", "pit-new"]),
        ("risk", ["pit-new", "glioma-old", "notumor"]),  # high (newest first), then low
        ("class", ["glioma-old", "notumor", "pit-new"]),
        ("nonsense", ["pit-new", "notumor", "glioma-old"]),
    ],
)
def test_the_history_sorts_by_its_column_headers(clinician, clinician_client, sort, expected):
    scans = {
        "glioma-old": make_scan(clinician, label="glioma", uploaded_at=at(1)),
        "notumor": make_scan(clinician, label="notumor", uploaded_at=at(2)),
        "pit-new": make_scan(clinician, label="pituitary", uploaded_at=at(3)),
    }
    response = clinician_client.get(f"{DASHBOARD}?sort={sort}")
    assert ids(response) == [scans[name].pk for name in expected]


def test_sort_links_keep_the_filters_and_mark_the_sorted_column(clinician, clinician_client):
    make_scan(clinician, label="glioma")
    html = clinician_client.get(f"{DASHBOARD}?label=glioma&sort=risk").content.decode()
    assert (
        '<th scope="col" aria-sort="descending"><a class="sort-link" href="?label=glioma&amp;sort=risk">Risk'
        in html
    )
    assert 'href="?label=glioma&amp;sort=newest">Uploaded' in html
    assert '<input type="hidden" name="sort" value="risk">' in html  # the filter form keeps it


def test_rows_have_a_thumbnail_a_batch_link_and_times_with_their_zone(clinician, clinician_client):
    scan = make_scan(clinician, uploaded_at=at(4))
    html = clinician_client.get(DASHBOARD).content.decode()
    assert (
        f'<img class="history-thumb" src="{reverse("predictions:scan-image", args=[scan.pk])}"'
        in html
    )
    assert f'href="{reverse("predictions:batch", args=[scan.batch])}"' in html
    assert (
        '<time class="js-local-time" datetime="2025-03-04T12:00:00+00:00">2025-03-04 12:00 UTC</time>'
        in html
    )
    assert static("js/localtime.js") in html
