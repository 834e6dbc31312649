"""Every read of another person's scan data leaves an audit row, and so does a refused probe
(issue 15, item 3): the polled JSON, the batch page, the admin's change pages, lists and
searches."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


@pytest.mark.parametrize(
    ("url_name", "object_type", "via"),
    [
        ("predictions:status", "scan", "status-json"),
        ("predictions:batch", "batch", "web"),
        ("predictions:batch-status", "batch", "status-json"),
    ],
)
def test_a_reviewer_reading_another_persons_scan_is_recorded(
    done, reviewer, reviewer_client, url_name, object_type, via
):
    scan = done.scan
    key = scan.batch if object_type == "batch" else scan.pk

    assert reviewer_client.get(reverse(url_name, args=[key])).status_code == 200

    [event] = events(Action.RESULT_VIEWED)
    assert (event.actor, event.object_type, event.object_id) == (reviewer, object_type, str(key))
    assert event.detail == {"via": via}


def test_the_owners_own_polling_writes_no_row(done, clinician_client):
    scan = done.scan
    for _ in range(3):
        clinician_client.get(reverse("predictions:status", args=[scan.pk]))
        clinician_client.get(reverse("predictions:batch-status", args=[scan.batch]))

    assert events(Action.RESULT_VIEWED) == []


def test_the_admin_scan_change_page_is_recorded(done, admin_client):
    url = reverse("admin:predictions_scan_change", args=[done.scan.pk])

    assert admin_client.get(url).status_code == 200

    [event] = events(Action.RESULT_VIEWED)
    assert (event.object_type, event.object_id, event.detail) == (
        "scan",
        str(done.scan.pk),
        {"via": "admin"},
    )


@pytest.mark.parametrize(
    "url_name", ["admin:predictions_prediction_changelist", "admin:predictions_scan_changelist"]
)
def test_admin_lists_and_searches_are_recorded_without_the_search_terms(
    done, admin_client, url_name
):
    admin_client.get(reverse(url_name))
    admin_client.get(reverse(url_name), {"q": "ward-7 case ref"})

    listed, searched = events(Action.LIST_VIEWED)
    assert listed.detail["params"] == []
    assert searched.detail["params"] == ["q"]
    assert "ward-7" not in str(searched.detail)


@pytest.mark.parametrize(
    "url_name", ["predictions:detail", "predictions:status", "predictions:scan-image"]
)
def test_probing_an_id_that_is_not_yours_is_recorded(done, other_clinician, other_client, url_name):
    response = other_client.get(reverse(url_name, args=[done.scan.pk]))

    assert response.status_code == 404
    [event] = events(Action.ACCESS_REFUSED)
    assert (event.actor, event.object_id, event.detail["status"]) == (
        other_clinician,
        str(done.scan.pk),
        404,
    )
    assert events(Action.RESULT_VIEWED) == []


def test_probing_a_batch_that_is_not_yours_is_recorded(done, other_client):
    assert other_client.get(reverse("predictions:batch", args=[done.scan.batch])).status_code == 404

    [event] = events(Action.ACCESS_REFUSED)
    assert (event.object_type, event.object_id) == ("batch", str(done.scan.batch))
