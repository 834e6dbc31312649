"""Issue 14, "The review desk": a queue (next unreviewed, oldest first or by risk, never one's
own scans), rounded numbers, keyboard shortcuts on the page, blind read with the first
impression stored beside the verdict, agreement both ways, and a reviewer's landing page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.templatetags.static import static
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.roles import approve_clinician
from accounts.tests.factories import make_reviewer_user
from predictions.models import Prediction
from predictions.monitoring import models_in_use
from predictions.reviews import (
    ReviewError,
    next_in_queue,
    record_first_impression,
    record_review,
)
from predictions.tests.history import make_scan

pytestmark = pytest.mark.django_db
NEXT = reverse("admin:predictions_prediction_next")
CHANGELIST = reverse("admin:predictions_prediction_changelist")


def change_url(prediction: Prediction) -> str:
    return reverse("admin:predictions_prediction_change", args=[prediction.pk])


def result(owner: User, label: str, days_ago: int, **fields) -> Prediction:
    created = timezone.now() - dt.timedelta(days=days_ago)
    return make_scan(owner, label=label, created_at=created, **fields).prediction


@pytest.fixture
def queue(clinician) -> dict[str, Prediction]:
    """Four of the clinician's results: oldest a low-risk one, then high, medium, high."""
    return {
        "low-old": result(clinician, "notumor", 9),
        "high-mid": result(clinician, "glioma", 5),
        "medium": result(clinician, "meningioma", 3),
        "high-new": result(clinician, "pituitary", 1),
    }


def test_next_is_the_oldest_unreviewed_and_skips_forward(reviewer, queue):
    assert next_in_queue(reviewer) == queue["low-old"]
    assert next_in_queue(reviewer, after=queue["low-old"]) == queue["high-mid"]
    assert next_in_queue(reviewer, after=queue["high-new"]) == queue["low-old"]  # round again


def test_by_risk_high_comes_first_then_oldest(reviewer, queue):
    order = []
    current = None
    for _ in range(4):
        current = next_in_queue(reviewer, "risk", after=current)
        order.append(current)
    assert order == [queue["high-mid"], queue["high-new"], queue["medium"], queue["low-old"]]


def test_reviewed_and_own_scans_are_not_in_the_queue(reviewer, queue):
    record_review(queue["low-old"], reviewer, verdict="agree")
    make_scan(reviewer, label="glioma")  # the reviewer's own upload
    assert next_in_queue(reviewer) == queue["high-mid"]
    for prediction in list(queue.values())[1:]:
        record_review(prediction, reviewer, verdict="agree")
    assert next_in_queue(reviewer) is None


def test_the_next_link_opens_the_next_review_page_and_keeps_the_order(reviewer_client, queue):
    response = reviewer_client.get(f"{NEXT}?order=risk")
    assert response.status_code == 302
    assert response["Location"] == change_url(queue["high-mid"])
    # The order stays the reviewer's choice for the next "Next".
    page = reviewer_client.get(change_url(queue["high-mid"])).content.decode()
    assert f'href="{NEXT}?order=risk&amp;after={queue["high-mid"].pk}"' in page
    assert 'id="queue-waiting">4</strong> unreviewed results waiting for you' in page


def test_save_and_next_records_the_verdict_and_moves_on(reviewer_client, reviewer, queue):
    first = queue["low-old"]
    response = reviewer_client.post(
        change_url(first), {"review_verdict": "agree", "_savenext": "1", "review_note": ""}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{NEXT}?after={first.pk}"
    assert reviewer_client.get(response["Location"])["Location"] == change_url(queue["high-mid"])
    first.refresh_from_db()
    assert (first.review_verdict, first.reviewed_by) == ("agree", reviewer)


def test_an_empty_queue_says_so(reviewer_client):
    response = reviewer_client.get(NEXT, follow=True)
    assert "No unreviewed results are waiting for you." in response.content.decode()


def test_the_review_page_has_shortcuts_rounded_numbers_and_the_viewer(reviewer_client, clinician):
    prediction = make_scan(clinician, label="glioma", confidence=0.9993013215869105).prediction
    page = reviewer_client.get(change_url(prediction)).content.decode()
    assert "0.9993013215869105" not in page
    assert '<div class="readonly">99.9\u00a0%</div>' in page  # the confidence
    assert "98.0\u00a0%" in page  # the tumour probability
    assert "0.40 (accepted up to 1.00)" in page  # the input check score
    assert static("js/review-desk.js") in page
    assert static("js/viewer.js") in page
    assert 'name="_savenext"' in page
    assert "<kbd>A</kbd> agrees with the AI" in page
    assert "data-brainscan-viewer" in page


def test_ones_own_scan_has_no_verdict_form(clinician):
    approve_clinician(reviewer := make_reviewer_user(email="rex@example.org"))
    reviewer = User.objects.get(pk=reviewer.pk)
    own = make_scan(reviewer, label="glioma").prediction
    client = Client()
    client.force_login(reviewer)
    page = client.get(change_url(own)).content.decode()
    assert "This is your own scan: another reviewer must record the verdict." in page
    assert 'name="review_verdict"' not in page
    assert 'name="_savenext"' not in page


# Blind read ------------------------------------------------------------------------------


@pytest.fixture
def blind(reviewer) -> User:
    reviewer.blind_read = True
    reviewer.save()
    return reviewer


def test_a_blind_reader_sees_the_image_but_not_the_ais_answer(reviewer_client, blind, clinician):
    prediction = make_scan(clinician, label="meningioma").prediction
    page = reviewer_client.get(change_url(prediction)).content.decode()
    assert "Your first impression" in page
    assert "data-brainscan-viewer" in page
    assert "data-overlay=" not in page  # no heatmap: it would hint at the answer
    assert "70.0" not in page  # the AI's confidence
    assert "Medium" not in page  # its risk
    assert 'name="review_verdict"' not in page
    # ... nor in the list.
    listing = reviewer_client.get(CHANGELIST).content.decode()
    assert "column-label" not in listing
    assert "column-risk" not in listing


def test_the_first_impression_reveals_the_answer_and_is_kept(reviewer_client, blind, clinician):
    prediction = make_scan(clinician, label="meningioma").prediction
    # A verdict before the first impression is refused.
    refused = reviewer_client.post(change_url(prediction), {"review_verdict": "agree"})
    assert "record your first impression before the verdict" in refused.content.decode()
    url = reverse("admin:predictions_prediction_first_impression", args=[prediction.pk])
    assert reviewer_client.post(url, {"first_impression": "glioma"}).status_code == 302
    page = reviewer_client.get(change_url(prediction)).content.decode()
    assert 'name="review_verdict"' in page
    assert "Glioma, by" in page
    assert "before the AI&#x27;s answer was shown" in page
    prediction.refresh_from_db()
    assert prediction.first_impression == "glioma"
    assert prediction.first_impression_by == blind
    record_review(prediction, blind, verdict="agree")  # convinced by the AI afterwards
    with pytest.raises(ReviewError):
        record_first_impression(prediction, blind, "pituitary")  # never rewritten
    prediction.refresh_from_db()
    assert (prediction.first_impression, prediction.true_label) == ("glioma", "meningioma")


def test_agreement_is_measured_both_ways(blind, reviewer_client, clinician):
    a = make_scan(clinician, label="meningioma").prediction
    b = make_scan(clinician, label="glioma").prediction
    c = make_scan(clinician, label="glioma").prediction
    record_first_impression(a, blind, "glioma")
    record_review(a, blind, verdict="agree")  # changed to the AI's class after seeing it
    record_first_impression(b, blind, "glioma")
    record_review(b, blind, verdict="agree")
    blind.blind_read = False
    record_review(c, blind, verdict="corrected", label="pituitary")  # not a blind read

    (model,) = models_in_use()
    assert (model.blind_reads, model.blind_agreed_first, model.blind_agreed_final) == (2, 1, 2)
    assert model.blind_changed == 1
    page = reviewer_client.get(reverse("predictions:model-in-use")).content.decode()
    assert "2: the AI matched the reviewer's first impression in 1 (50.0" in page


def test_the_blind_read_option_is_each_reviewers_own(reviewer_client, reviewer):
    url = reverse("admin:predictions_prediction_blind_read")
    response = reviewer_client.post(url, {"blind_read": "on", "next": CHANGELIST})
    assert response["Location"] == CHANGELIST
    reviewer.refresh_from_db()
    assert reviewer.blind_read is True
    reviewer_client.post(url, {"blind_read": "off", "next": "https://evil.example/"})
    reviewer.refresh_from_db()
    assert reviewer.blind_read is False
    assert reviewer_client.get(url).status_code == 405


# Landing ----------------------------------------------------------------------------------


def test_a_reviewer_without_scans_lands_on_the_review_desk(reviewer_client):
    response = reviewer_client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == f"{CHANGELIST}?reviewed=no"


def test_a_clinician_still_lands_on_their_scans(clinician_client):
    response = clinician_client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("predictions:dashboard")


def test_the_navigation_marks_the_current_page_and_offers_the_desk(
    reviewer_client, clinician_client
):
    page = clinician_client.get(reverse("predictions:upload")).content.decode()
    assert f'<a href="{reverse("predictions:upload")}" aria-current="page">Upload</a>' in page
    assert page.count('aria-current="page"') == 1
    assert "Review desk" not in page
    desk = reviewer_client.get(reverse("predictions:model-in-use")).content.decode()
    assert f'href="{CHANGELIST}?reviewed=no">Review desk</a>' in desk
    assert 'aria-current="page">Model in use</a>' in desk
