"""Isolation: every URL that takes an id answers 404 to another clinician, web and API alike.

The URL lists are read from the URL configuration, so a new id-taking view is covered the
day it is added, and cannot be forgotten here.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from api.models import ApiToken
from predictions.models import Scan
from predictions.tasks import run_prediction
from predictions.tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db


def id_routes(namespace: str, kwarg: str) -> list[str]:
    resolver: URLResolver = get_resolver().namespace_dict[namespace][1]
    return sorted(
        f"{namespace}:{pattern.name}"
        for pattern in resolver.url_patterns
        if isinstance(pattern, URLPattern) and kwarg in pattern.pattern.converters
    )


SCAN_ROUTES = id_routes("predictions", "scan_id")
BATCH_ROUTES = id_routes("predictions", "batch")
API_ROUTES = id_routes("api", "scan_id")


@pytest.fixture
def alices_scan(clinician, fake_engine) -> Scan:
    prediction = PredictionFactory.create(scan__owner=clinician)
    run_prediction(prediction.pk)
    return prediction.scan


def test_the_route_lists_are_not_empty():
    assert {"predictions:detail", "predictions:scan-image", "predictions:delete"} <= set(
        SCAN_ROUTES
    )
    assert BATCH_ROUTES
    assert {"api:scan-detail", "api:heatmap-image"} <= set(API_ROUTES)


@pytest.mark.parametrize("name", SCAN_ROUTES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_web_scan_urls_are_404_for_another_clinician(other_client, alices_scan, name, method):
    response = getattr(other_client, method)(reverse(name, args=[alices_scan.pk]))

    allowed = {404} if method == "get" else {404, 405}  # 405: a GET-only view refuses a POST
    assert response.status_code in allowed
    assert Scan.objects.filter(pk=alices_scan.pk).exists()


@pytest.mark.parametrize("name", BATCH_ROUTES)
def test_web_batch_urls_are_404_for_another_clinician(other_client, alices_scan, name):
    response = other_client.get(reverse(name, args=[alices_scan.batch]))

    assert response.status_code == 404


@pytest.mark.parametrize("name", SCAN_ROUTES)
def test_the_owner_reaches_the_same_urls(clinician_client, alices_scan, name):
    response = clinician_client.get(reverse(name, args=[alices_scan.pk]))

    assert response.status_code == 200


@pytest.mark.parametrize("name", API_ROUTES)
@pytest.mark.parametrize("method", ["get", "delete"])
def test_api_urls_are_404_for_another_clinician(other_clinician, alices_scan, name, method):
    _token, key = ApiToken.issue(other_clinician, "t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    response = getattr(client, method)(reverse(name, args=[alices_scan.pk]))

    allowed = {404} if method == "get" else {404, 405}  # 405: image endpoints take no DELETE
    assert response.status_code in allowed
    assert Scan.objects.filter(pk=alices_scan.pk).exists()


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:index"),
        reverse("admin:predictions_prediction_changelist"),
        reverse("admin:predictions_scan_changelist"),
        reverse("admin:accounts_user_changelist"),
    ],
)
def test_clinicians_cannot_reach_the_admin(clinician_client, url):
    response = clinician_client.get(url, follow=True)

    assert response.status_code == 403


def test_clinicians_cannot_reach_the_reviewer_pages(clinician_client):
    for name in ("predictions:model-in-use", "predictions:reviewed-csv"):
        assert clinician_client.get(reverse(name)).status_code == 403
