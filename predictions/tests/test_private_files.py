from __future__ import annotations

import pytest
from django.urls import reverse

from predictions.storage import private_storage
from predictions.tasks import run_prediction
from predictions.tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db
FILE_VIEWS = ["predictions:scan-image", "predictions:overlay-image", "predictions:heatmap-image"]
SCAN_VIEWS = [*FILE_VIEWS, "predictions:detail", "predictions:status"]


@pytest.fixture
def finished(clinician, fake_engine):
    prediction = PredictionFactory(scan__owner=clinician)
    run_prediction(prediction.pk)
    return prediction.scan


@pytest.mark.parametrize("view", FILE_VIEWS)
def test_owner_gets_the_file_uncached(clinician_client, finished, view):
    response = clinician_client.get(reverse(view, args=[finished.pk]))

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


@pytest.mark.parametrize("view", SCAN_VIEWS)
def test_other_clinician_gets_404(other_client, finished, view):
    assert other_client.get(reverse(view, args=[finished.pk])).status_code == 404


@pytest.mark.parametrize("view", SCAN_VIEWS)
def test_anonymous_user_is_sent_to_login(client, finished, view):
    response = client.get(reverse(view, args=[finished.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("view", SCAN_VIEWS)
def test_reviewer_can_see_every_clinicians_scan(reviewer_client, finished, view):
    assert reviewer_client.get(reverse(view, args=[finished.pk])).status_code == 200


def test_other_clinicians_batch_is_404(other_client, finished):
    assert other_client.get(reverse("predictions:batch", args=[finished.batch])).status_code == 404
    assert (
        other_client.get(reverse("predictions:batch-status", args=[finished.batch])).status_code
        == 404
    )


def test_private_files_have_no_public_url(finished):
    with pytest.raises(ValueError, match="no public URL"):
        private_storage.url(finished.image.name)
    with pytest.raises(ValueError, match="no public URL"):
        _ = finished.image.url


def test_private_files_are_outside_static_and_media(settings):
    private = settings.PRIVATE_MEDIA_ROOT.resolve()
    for public in (settings.MEDIA_ROOT, settings.STATIC_ROOT):
        assert not private.is_relative_to(public.resolve())


def test_result_page_shows_the_result_and_the_disclaimer(clinician_client, finished):
    response = clinician_client.get(reverse("predictions:detail", args=[finished.pk]))

    page = response.content.decode()
    assert "Glioma" in page
    assert reverse("predictions:overlay-image", args=[finished.pk]) in page
    assert "Decision support, not a diagnosis" in page
