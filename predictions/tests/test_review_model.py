"""The model-in-use page: figures per model version from reviewed cases, and the CSV exports."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import PASSWORD
from predictions.models import Prediction
from predictions.monitoring import models_in_use
from predictions.reviews import record_review
from predictions.tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db
DONE, REJECTED = Prediction.Status.DONE, Prediction.Status.REJECTED


def make(version: str, ai: str | None, truth: str | None = None, status: str = DONE, **extra):
    """A finished prediction; `truth` records the reviewer's class (agree when it is `ai`)."""
    prediction = PredictionFactory.create(
        status=status, label=ai or "", model_version=version, **extra
    )
    if truth is not None:
        verdict = "agree" if truth == ai else "corrected"
        prediction.review_verdict = verdict
        prediction.review_label = "" if verdict == "agree" else truth
        prediction.save()
    return prediction


@pytest.fixture
def history() -> None:
    make("v1", "glioma", "glioma")
    make("v1", "glioma", "glioma")
    make("v1", "glioma", "meningioma")
    make("v1", "notumor", "pituitary")
    make("v1", "pituitary", "pituitary")
    make("v1", "notumor")  # not reviewed
    make("v1", None, status=REJECTED)
    make("v2", "meningioma", "meningioma")


def test_figures_per_model_version(history):
    v1 = {stats.version: stats for stats in models_in_use()}["v1"]

    assert (v1.analysed, v1.reviewed, v1.agreed) == (7, 5, 3)
    assert v1.agreement_rate == pytest.approx(3 / 5)
    assert v1.gate_rejected_rate == pytest.approx(1 / 7)
    assert v1.confusion["meningioma"]["glioma"] == 1
    assert v1.confusion["pituitary"]["notumor"] == 1
    assert v1.sensitivity == {
        "glioma": 1.0,
        "meningioma": 0.0,
        "notumor": None,  # no reviewed normal scan yet
        "pituitary": pytest.approx(0.5),
    }
    # 5 reviewed tumours; the AI called 4 of them some tumour (a pituitary one "notumor")
    assert v1.tumour_sensitivity == pytest.approx(4 / 5)


def test_versions_are_listed_most_recent_first(history):
    assert [stats.version for stats in models_in_use()] == ["v2", "v1"]


def test_reviewer_page_shows_the_matrix(reviewer_client, history):
    response = reviewer_client.get(reverse("predictions:model-in-use"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Model v1" in page
    assert "Model v2" in page
    assert re.search(r"3 of 5 \(60\.0\s%\)", page)
    assert reverse("predictions:reviewed-csv") in page


def test_reviewed_cases_csv_holds_only_reviewed_cases_and_is_formula_safe(
    reviewer_client, reviewer
):
    prediction = make("v1", "glioma", confidence=0.9)
    record_review(prediction, reviewer, verdict="corrected", label="meningioma", note="=cmd|x")
    make("v1", "notumor")  # not reviewed

    response = reviewer_client.get(reverse("predictions:reviewed-csv"))

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert len(rows) == 1
    assert rows[0]["ai_label"] == "glioma"
    assert rows[0]["reviewer_label"] == "meningioma"
    assert rows[0]["reviewed_by"] == reviewer.email
    assert rows[0]["note"] == "'=cmd|x"


def test_all_history_csv_is_for_administrators_only(reviewer_client, client, history):
    url = reverse("predictions:all-history-csv")
    client.force_login(User.objects.create_superuser("root@example.org", PASSWORD))

    assert reviewer_client.get(url).status_code == 403
    response = client.get(url)
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert response.status_code == 200
    assert len(lines) == 1 + Prediction.objects.count()


def test_clinician_sees_the_reviewers_note_on_the_result_page(
    clinician_client, clinician, reviewer
):
    from django.urls import reverse
    from django.utils import timezone

    from predictions.models import Prediction
    from predictions.tests.factories import PredictionFactory

    prediction = PredictionFactory(
        scan__owner=clinician,
        status=Prediction.Status.DONE,
        label="glioma",
        review_verdict="corrected",
        review_label="meningioma",
        review_note="Dural tail visible on the next slice.",
        reviewed_by=reviewer,
        reviewed_at=timezone.now(),
    )

    page = clinician_client.get(
        reverse("predictions:detail", args=[prediction.scan_id])
    ).content.decode()

    assert "Meningioma" in page
    assert "Dural tail visible on the next slice." in page
