"""The reviewers' desk: see every prediction with its images, record a verdict, change nothing else."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.roles import approve_clinician
from accounts.tests.factories import make_reviewer_user
from predictions.models import Prediction
from predictions.reviews import ReviewError, record_review
from predictions.tasks import run_prediction
from predictions.tests.factories import PredictionFactory
from predictions.tests.fakes import REJECTED

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:predictions_prediction_changelist")


def change_url(prediction: Prediction) -> str:
    return reverse("admin:predictions_prediction_change", args=[prediction.pk])


def review(client, prediction: Prediction, verdict: str, label: str = "", note: str = ""):
    data = {"review_verdict": verdict, "review_label": label, "review_note": note}
    return client.post(change_url(prediction), data)


def test_reviewer_sees_every_clinicians_predictions(reviewer_client, done, other_clinician):
    PredictionFactory(scan__owner=other_clinician)

    response = reviewer_client.get(CHANGELIST)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("reviewed=no", 1),
        ("reviewed=yes", 1),
        ("reviewed=corrected", 0),
        ("status__exact=done", 2),
        ("label__exact=glioma", 2),
        ("risk__exact=high", 2),
        ("model_version=fake-0.0.0", 2),
        ("model_version=other", 0),
    ],
)
def test_filters(reviewer_client, reviewer, clinician, fake_engine, query, expected):
    for _ in range(2):
        run_prediction(PredictionFactory(scan__owner=clinician).pk)
    Prediction.objects.filter(pk=Prediction.objects.first().pk).update(review_verdict="agree")

    response = reviewer_client.get(f"{CHANGELIST}?{query}")

    assert response.context["cl"].result_count == expected


def test_review_page_shows_the_images_through_the_protected_views(reviewer_client, done):
    page = reviewer_client.get(change_url(done)).content.decode()

    # The result page's viewer, with the slice and the gray heatmap it colours.
    assert f'data-image="{reverse("predictions:scan-image", args=[done.scan_id])}"' in page
    assert f'data-overlay="{reverse("predictions:heatmap-image", args=[done.scan_id])}"' in page
    assert done.scan.image.name not in page  # no stock file widget, no storage path
    assert done.heatmap.name not in page
    for name in ("predictions:scan-image", "predictions:heatmap-image"):
        assert reviewer_client.get(reverse(name, args=[done.scan_id])).status_code == 200


def test_reviewer_records_agreement(reviewer_client, reviewer, done):
    response = review(reviewer_client, done, "agree", note="Clear enhancing mass.")

    assert response.status_code == 302
    done.refresh_from_db()
    assert (done.review_verdict, done.review_label, done.true_label) == ("agree", "", "glioma")
    assert done.review_note == "Clear enhancing mass."
    assert done.reviewed_by == reviewer
    assert done.reviewed_at is not None


def test_reviewer_records_a_correction(reviewer_client, reviewer, done):
    review(reviewer_client, done, "corrected", label="meningioma", note="Dural tail.")

    done.refresh_from_db()
    assert (done.review_verdict, done.true_label, done.reviewed_by) == (
        "corrected",
        "meningioma",
        reviewer,
    )


@pytest.mark.parametrize(
    ("verdict", "label", "message"),
    [
        ("corrected", "glioma", "the AI&#x27;s own class"),
        ("corrected", "", "needs the class you found"),
        ("agree", "pituitary", "record the verdict as &#x27;Corrected&#x27;"),
        ("", "pituitary", "Choose a verdict"),
    ],
)
def test_inconsistent_verdicts_are_refused(reviewer_client, done, verdict, label, message):
    response = review(reviewer_client, done, verdict, label=label)

    assert response.status_code == 200  # the form again, with the error
    assert message in response.content.decode()
    done.refresh_from_db()
    assert (done.review_verdict, done.reviewed_by) == ("", None)


def test_a_rejected_scan_cannot_be_reviewed(reviewer_client, clinician, fake_engine):
    fake_engine.result = REJECTED
    prediction = PredictionFactory(scan__owner=clinician)
    run_prediction(prediction.pk)

    response = review(reviewer_client, prediction, "corrected", label="glioma")

    assert "Only finished analyses" in response.content.decode()
    prediction.refresh_from_db()
    assert prediction.review_verdict == ""


def test_a_recorded_review_cannot_be_blanked(reviewer_client, done):
    review(reviewer_client, done, "agree")

    response = review(reviewer_client, done, "")

    assert "cannot be blanked" in response.content.decode()
    done.refresh_from_db()
    assert done.review_verdict == "agree"


def test_ai_outputs_cannot_be_edited(reviewer_client, done):
    data = {
        "review_verdict": "agree",
        "label": "pituitary",
        "confidence": "0.1",
        "risk": "low",
        "model_version": "forged",
    }

    reviewer_client.post(change_url(done), data)

    done.refresh_from_db()
    assert (done.label, done.confidence, done.risk) == ("glioma", pytest.approx(0.91), "high")
    assert done.model_version == "fake-0.0.0"


def test_reviewers_cannot_add_or_delete_predictions_or_scans(reviewer_client, done):
    urls = [
        reverse("admin:predictions_prediction_add"),
        reverse("admin:predictions_prediction_delete", args=[done.pk]),
        reverse("admin:predictions_scan_delete", args=[done.scan_id]),
    ]

    assert [reviewer_client.post(url, {"post": "yes"}).status_code for url in urls] == [403] * 3
    assert Prediction.objects.filter(pk=done.pk).exists()


def test_the_clinician_sees_the_verdict_on_the_result_page(reviewer_client, clinician_client, done):
    review(reviewer_client, done, "corrected", label="pituitary")

    page = clinician_client.get(reverse("predictions:detail", args=[done.scan_id]))

    section = re.search(r'id="review-title".*?</section>', page.content.decode(), re.S)
    assert section is not None
    assert "Pituitary tumour" in section.group(0)


def test_the_clinician_sees_the_verdict_in_the_csv(reviewer_client, clinician_client, done):
    review(reviewer_client, done, "corrected", label="pituitary")

    response = clinician_client.get(reverse("predictions:export"))

    rows = b"".join(response.streaming_content).decode().splitlines()
    assert ",corrected,pituitary,,rita@example.org," in rows[1]  # verdict, class, note, reviewer


@pytest.fixture
def reviewing_clinician(db):
    """A clinician who is also a reviewer."""
    user = make_reviewer_user(email="rex@example.org")
    approve_clinician(user)
    return User.objects.get(pk=user.pk)


def test_a_reviewer_cannot_review_their_own_scan_in_the_admin(reviewing_clinician, fake_engine):
    own = PredictionFactory(scan__owner=reviewing_clinician)
    run_prediction(own.pk)
    client = Client()
    client.force_login(reviewing_clinician)

    # The page has no verdict form, and says why; a forged POST stores nothing.
    page = client.get(change_url(own)).content.decode()
    assert "This is your own scan" in page
    assert 'name="review_verdict"' not in page
    response = review(client, own, "agree", note="Looks right to me.")

    assert response.status_code in (200, 302)
    own.refresh_from_db()
    assert (own.review_verdict, own.reviewed_by) == ("", None)


def test_no_path_records_a_verdict_on_ones_own_scan(reviewing_clinician, fake_engine):
    own = PredictionFactory(scan__owner=reviewing_clinician)
    run_prediction(own.pk)
    own.refresh_from_db()

    with pytest.raises(ReviewError, match="your own scan"):
        record_review(own, reviewing_clinician, verdict="agree")
    own.refresh_from_db()
    assert own.review_verdict == ""


def test_another_reviewer_can_review_that_scan(reviewing_clinician, reviewer, fake_engine):
    own = PredictionFactory(scan__owner=reviewing_clinician)
    run_prediction(own.pk)
    own.refresh_from_db()

    record_review(own, reviewer, verdict="agree")

    assert own.reviewed_by == reviewer
