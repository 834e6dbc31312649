"""Every date parameter of the history and its CSV export answers a form error or 400, never 500.

`date_to=9999-12-31` was an HTTP 500 (OverflowError adding the day after it), and the first
days of year 1 overflowed when turned into UTC east of Greenwich.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from predictions.tests.history import make_scan

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("predictions:dashboard")
EXPORT = reverse("predictions:export")

BAD_DATES = [
    "9999-12-31",
    "9999-12-30",
    "0001-01-01",
    "0001-01-02",
    "99999-01-01",
    "2025-02-30",
    "yesterday",
    "2025-13-01",
    "-1-01-01",
    "\x00",
    "1" * 500,
]


@pytest.fixture(params=["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def zone(request, settings):
    settings.TIME_ZONE = request.param
    return request.param


@pytest.mark.parametrize("field", ["date_from", "date_to"])
@pytest.mark.parametrize("value", BAD_DATES)
def test_the_history_answers_a_form_error_for_any_date(
    clinician, clinician_client, zone, field, value
):
    make_scan(clinician)

    response = clinician_client.get(DASHBOARD, {field: value})

    assert response.status_code == 200
    assert response.context["form"].errors[field]


@pytest.mark.parametrize("field", ["date_from", "date_to"])
@pytest.mark.parametrize("value", BAD_DATES)
def test_the_export_answers_400_for_any_bad_date(clinician, clinician_client, zone, field, value):
    make_scan(clinician)

    response = clinician_client.get(EXPORT, {field: value})

    assert response.status_code == 400
    assert "date" in response.content.decode().lower()


@pytest.mark.parametrize("value", ["1900-01-01", "2999-12-31", "2025-03-04"])
def test_dates_in_range_still_filter(clinician, clinician_client, zone, value):
    make_scan(clinician)

    assert clinician_client.get(DASHBOARD, {"date_from": value}).status_code == 200
    assert clinician_client.get(DASHBOARD, {"date_to": value}).context["form"].is_valid()
    assert clinician_client.get(EXPORT, {"date_from": value, "date_to": value}).status_code == 200


def test_the_export_answers_400_for_an_end_before_the_start(clinician, clinician_client):
    response = clinician_client.get(EXPORT, {"date_from": "2025-03-05", "date_to": "2025-03-01"})

    assert response.status_code == 400


def test_the_date_inputs_carry_the_accepted_range(clinician, clinician_client):
    html = clinician_client.get(DASHBOARD).content.decode()

    assert 'min="1900-01-01"' in html
    assert 'max="2999-12-31"' in html


def test_with_an_invalid_filter_the_history_offers_no_export_link_that_would_answer_400(
    clinician, clinician_client
):
    html = clinician_client.get(DASHBOARD, {"date_to": "9999-12-31"}).content.decode()

    assert 'id="export-link"' not in html
    assert "Correct the filters to export CSV" in html
    assert 'id="export-link"' in clinician_client.get(DASHBOARD).content.decode()
