"""Every action the issue names leaves one audit row: who, what, which object, from where."""

from __future__ import annotations

import time

import pytest
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.contrib.admin.sites import site
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.admin import UserAdmin
from accounts.models import User
from accounts.tests.factories import PASSWORD
from api.models import ApiToken
from audit.log import bound_request
from audit.models import AuditEvent
from predictions.models import Scan
from predictions.tasks import run_prediction
from predictions.tests.factories import PredictionFactory
from predictions.tests.images import png_bytes

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


@pytest.fixture
def done_scan(clinician, fake_engine) -> Scan:
    prediction = PredictionFactory.create(scan__owner=clinician)
    run_prediction(prediction.pk)
    return prediction.scan


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def only_event(action: str) -> AuditEvent:
    [event] = events(action)
    return event


def test_sign_in_is_recorded_with_the_address(clinician):
    Client(REMOTE_ADDR="203.0.113.7").post(
        reverse("account_login"), {"login": clinician.email, "password": PASSWORD}
    )

    event = only_event(Action.LOGIN)
    assert (event.actor, event.actor_email, event.ip) == (clinician, clinician.email, "203.0.113.7")


def test_failed_sign_in_names_the_account_but_not_what_was_typed(clinician):
    Client().post(reverse("account_login"), {"login": clinician.email, "password": "wrong-guess"})
    Client().post(reverse("account_login"), {"login": "hunter2@example.org", "password": "x"})

    unknown, known = sorted(events(Action.LOGIN_FAILED), key=lambda e: e.detail["known_account"])
    assert (known.actor, known.detail) == (clinician, {"known_account": True})
    assert (unknown.actor, unknown.actor_email) == (None, "")
    assert "hunter2" not in str(AuditEvent.objects.values_list())


def test_sign_out_is_recorded(clinician_client, clinician):
    clinician_client.post(reverse("account_logout"))

    assert only_event(Action.LOGOUT).actor == clinician


def test_web_upload_is_recorded_without_the_file_name(clinician_client, clinician, fake_engine):
    clinician_client.post(
        reverse("predictions:upload"),
        {"images": [SimpleUploadedFile("Smith_John.png", png_bytes())]},
    )

    event = only_event(Action.SCAN_UPLOADED)
    assert event.actor == clinician
    assert (event.object_type, event.object_id) == ("scan", str(Scan.objects.get().pk))
    assert event.detail["format"] == "PNG"
    assert "Smith" not in str(event.detail)


def test_result_view_is_recorded_for_the_owner_only(
    clinician_client, other_client, clinician, done_scan
):
    url = reverse("predictions:detail", args=[done_scan.pk])

    assert other_client.get(url).status_code == 404
    assert clinician_client.get(url).status_code == 200

    event = only_event(Action.RESULT_VIEWED)
    assert (event.actor, event.object_id, event.detail) == (
        clinician,
        str(done_scan.pk),
        {"via": "web"},
    )


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("predictions:scan-image", "slice"),
        ("predictions:overlay-image", "overlay"),
        ("predictions:heatmap-image", "heatmap"),
    ],
)
def test_image_downloads_are_recorded(clinician_client, done_scan, name, file):
    response = clinician_client.get(reverse(name, args=[done_scan.pk]))

    assert response.status_code == 200
    event = only_event(Action.IMAGE_DOWNLOADED)
    assert (event.object_id, event.detail["file"]) == (str(done_scan.pk), file)


def test_csv_export_is_recorded(clinician_client, clinician, done_scan):
    response = clinician_client.get(reverse("predictions:export"))

    assert response.status_code == 200
    assert only_event(Action.CSV_EXPORTED).detail == {"kind": "own history"}


def test_review_verdict_is_recorded(reviewer_client, reviewer, done_scan):
    prediction = done_scan.prediction
    url = reverse("admin:predictions_prediction_change", args=[prediction.pk])

    response = reviewer_client.post(
        url, {"review_verdict": "corrected", "review_label": "meningioma", "review_note": "x"}
    )

    assert response.status_code == 302
    event = only_event(Action.REVIEW_RECORDED)
    assert (event.actor, event.object_id) == (reviewer, str(prediction.pk))
    assert event.detail == {"verdict": "corrected", "scan_id": done_scan.pk}


def test_token_creation_and_revocation_are_recorded(clinician_client, clinician):
    clinician_client.post(reverse("api:token-create"), {"name": "bridge"})
    token = ApiToken.objects.get()
    clinician_client.post(reverse("api:token-revoke", args=[token.pk]))

    created, revoked = only_event(Action.TOKEN_CREATED), only_event(Action.TOKEN_REVOKED)
    assert created.actor == revoked.actor == clinician
    assert created.detail == {"prefix": token.prefix, "owner_id": clinician.pk}
    assert created.object_id == revoked.object_id == str(token.pk)


def test_account_approval_in_the_admin_is_recorded_with_the_admin(pending_user, rf):
    admin_user = User.objects.create_superuser("root@example.org", PASSWORD)
    request = rf.post("/", REMOTE_ADDR="198.51.100.4")
    request.user = admin_user
    request._messages = type("M", (), {"add": lambda *a, **k: None})()
    with bound_request(request):
        UserAdmin(User, site).approve_as_clinicians(
            request, User.objects.filter(pk=pending_user.pk)
        )

    event = only_event(Action.ACCOUNT_APPROVED)
    assert (event.actor, event.object_id, event.ip) == (
        admin_user,
        str(pending_user.pk),
        "198.51.100.4",
    )


def test_api_upload_view_download_and_delete_are_recorded(
    clinician, fake_engine, django_capture_on_commit_callbacks
):
    _token, key = ApiToken.issue(clinician, "script")
    api = APIClient(REMOTE_ADDR="192.0.2.1")
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with django_capture_on_commit_callbacks(execute=True):
        scan_id = api.post(
            reverse("api:analyze"), {"image": SimpleUploadedFile("a.png", png_bytes())}
        ).json()["id"]
    api.get(reverse("api:scan-detail", args=[scan_id]))
    api.get(reverse("api:overlay-image", args=[scan_id]))
    with django_capture_on_commit_callbacks(execute=True):
        api.delete(reverse("api:scan-detail", args=[scan_id]))

    scan_actions = [
        Action.SCAN_UPLOADED,
        Action.RESULT_VIEWED,
        Action.IMAGE_DOWNLOADED,
        Action.SCAN_DELETED,
    ]
    recorded = AuditEvent.objects.filter(action__in=scan_actions).order_by("id")
    assert [(e.action, e.object_id, e.actor, e.ip) for e in recorded] == [
        (Action.SCAN_UPLOADED, str(scan_id), clinician, "192.0.2.1"),
        (Action.RESULT_VIEWED, str(scan_id), clinician, "192.0.2.1"),
        (Action.IMAGE_DOWNLOADED, str(scan_id), clinician, "192.0.2.1"),
        (Action.SCAN_DELETED, str(scan_id), clinician, "192.0.2.1"),
    ]
    assert recorded.last().detail == {"owner_id": clinician.pk}


def test_the_client_address_comes_from_our_proxy_when_configured(clinician, settings):
    settings.NUM_PROXIES = 1
    Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9").post(
        reverse("account_login"), {"login": clinician.email, "password": PASSWORD}
    )

    assert only_event(Action.LOGIN).ip == "203.0.113.9"  # not the forgeable left-most entry


def test_turning_on_two_factor_sign_in_is_recorded(
    clinician, settings, django_capture_on_commit_callbacks
):
    settings.MFA_TOTP_TOLERANCE = 1
    client = Client()
    client.force_login(clinician)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    client.get(reverse("mfa_activate_totp"))
    code = format_hotp_value(hotp_value(client.session[SECRET_SESSION_KEY], int(time.time()) // 30))

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("mfa_activate_totp"), {"code": code})

    added = events(Action.MFA_ENABLED)
    assert {event.detail["type"] for event in added} == {"totp", "recovery_codes"}
    assert {event.actor for event in added} == {clinician}
