"""Styled error pages with navigation (issue 14): 404, 403, 500 and CSRF failure.

Each one names what happened in plain words, links back into the site, loads only the site's
stylesheet (no inline script or style, so the Content-Security-Policy allows it) and never
shows Django's own page.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.templatetags.static import static
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views import defaults

pytestmark = pytest.mark.django_db
NAV = ('href="/"', 'href="/scans/"', 'href="/scans/upload/"', 'href="/account/"')


def assert_styled(html: str, heading: str) -> None:
    assert f"<h1>{heading}</h1>" in html
    # the stylesheet's URL as the storage names it (hashed in the production profile)
    assert static("css/brainscan.css") in html
    for link in NAV:
        assert link in html
    assert "<style" not in html
    assert 'style="' not in html
    assert "<script>" not in html
    assert "Django" not in html


def test_404_for_a_wrong_address(clinician_client):
    response = clinician_client.get("/no-such-page/")

    assert response.status_code == 404
    assert_styled(response.content.decode(), "Page not found")


def test_404_for_another_clinicians_scan_says_nothing_more(clinician, other_client):
    from predictions.tests.history import make_scan

    scan = make_scan(clinician)

    response = other_client.get(reverse("predictions:detail", args=[scan.pk]))

    assert response.status_code == 404
    html = response.content.decode()
    assert_styled(html, "Page not found")
    assert f"Scan {scan.pk}" not in html


def test_403_page():
    request = RequestFactory().get("/somewhere/")
    response = defaults.permission_denied(request, PermissionDenied())

    assert response.status_code == 403
    assert_styled(response.content.decode(), "Access refused")


def test_500_page_needs_no_request_context():
    request = RequestFactory().get("/somewhere/")
    response = defaults.server_error(request)

    assert response.status_code == 500
    assert_styled(response.content.decode(), "Something went wrong")


def test_csrf_failure_page(clinician):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)

    response = client.post(reverse("predictions:upload"), {})

    assert response.status_code == 403
    html = response.content.decode()
    assert_styled(html, "This form has expired")
    assert "reload" in html.lower()
