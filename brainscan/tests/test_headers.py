"""Every HTML page carries a CSP that allows no inline script or style, and holds none; every
page, JSON answer and export with clinical data says Cache-Control: private, no-store."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from api.models import ApiToken
from predictions.models import Prediction

pytestmark = pytest.mark.django_db

INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I),
    "style element": re.compile(r"<style[\s>]", re.I),
    "style attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I),
    "event handler": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def not_stored(response) -> bool:
    """private, no-store: ours, or Django's never_cache (allauth's pages) which includes both."""
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    return {"private", "no-store"} <= directives


def pages(done: Prediction) -> list[tuple[str, str]]:
    """(who, url) for the HTML pages: each actor's own, the admin's and the anonymous ones."""
    scan = done.scan
    return [
        ("anonymous", reverse("account_login")),
        ("anonymous", reverse("account_signup")),
        ("anonymous", reverse("account_reset_password")),
        ("clinician", reverse("predictions:dashboard")),
        ("clinician", reverse("predictions:upload")),
        ("clinician", reverse("predictions:detail", args=[scan.pk])),
        ("clinician", reverse("predictions:batch", args=[scan.batch])),
        ("clinician", reverse("predictions:model-card")),
        ("clinician", reverse("predictions:delete", args=[scan.pk])),
        ("clinician", reverse("accounts:home")),
        ("clinician", reverse("mfa_index")),
        ("reviewer", reverse("predictions:model-in-use")),
        ("admin", reverse("admin:index")),
        ("admin", reverse("admin:predictions_prediction_changelist")),
        ("admin", reverse("admin:predictions_prediction_change", args=[done.pk])),
        ("admin", reverse("admin:predictions_scan_changelist")),
        ("admin", reverse("admin:accounts_user_changelist")),
        ("admin", reverse("admin:audit_auditevent_changelist")),
    ]


def test_every_html_page_has_a_strict_csp_and_no_inline_code(
    done, clinician_client, reviewer_client, admin_client
):
    clients = {
        "anonymous": Client(),
        "clinician": clinician_client,
        "reviewer": reviewer_client,
        "admin": admin_client,
    }
    for who, url in pages(done):
        response = clients[who].get(url)
        assert response.status_code == 200, (who, url, response.status_code)
        assert response["Content-Type"].startswith("text/html")
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy, url
        assert "style-src 'self'" in policy, url
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        page = response.content.decode()
        for what, pattern in INLINE.items():
            found = pattern.search(page)
            assert found is None, f"{url} ({who}) has an {what}: {found and found.group(0)}"
        assert not_stored(response), url


def test_json_with_clinical_data_is_not_stored(done, clinician, clinician_client):
    scan = done.scan
    _token, key = ApiToken.issue(clinician, "test")
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    answers = [
        clinician_client.get(reverse("predictions:status", args=[scan.pk])),
        clinician_client.get(reverse("predictions:batch-status", args=[scan.batch])),
        api.get(reverse("api:scans")),
        api.get(reverse("api:scan-detail", args=[scan.pk])),
    ]

    for response in answers:
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/json")
        assert not_stored(response)
