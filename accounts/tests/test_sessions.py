"""Password policy and session lifetime (issue 15, item 11)."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.sessions import ACTIVE_KEY, STARTED_KEY
from accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("predictions:dashboard")


def signed_in(user, *, started_ago: float = 0, active_ago: float = 0) -> Client:
    client = Client()
    client.force_login(user)
    session = client.session
    now = time.time()
    session[STARTED_KEY] = now - started_ago
    session[ACTIVE_KEY] = now - active_ago
    session.save()
    return client


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_an_idle_session_is_signed_out(clinician, settings):
    settings.SESSION_IDLE_TIMEOUT = 1800
    client = signed_in(clinician, started_ago=3600, active_ago=1801)

    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not is_signed_in(client)


def test_an_active_session_stays_signed_in(clinician, settings):
    settings.SESSION_IDLE_TIMEOUT = 1800
    client = signed_in(clinician, started_ago=3600, active_ago=1700)

    assert client.get(DASHBOARD).status_code == 200
    assert client.get(DASHBOARD).status_code == 200
    assert time.time() - client.session[ACTIVE_KEY] < 60  # the clock was reset


def test_the_absolute_lifetime_ends_even_an_active_session(clinician, settings):
    settings.SESSION_COOKIE_AGE = 12 * 3600
    client = signed_in(clinician, started_ago=12 * 3600 + 1, active_ago=5)

    assert client.get(DASHBOARD).status_code == 302
    assert not is_signed_in(client)


def test_status_polling_does_not_count_as_activity(clinician, settings):
    settings.SESSION_IDLE_TIMEOUT = 1800
    client = signed_in(clinician, active_ago=1000)
    before = client.session[ACTIVE_KEY]

    client.get(reverse("predictions:batch-status", args=["00000000-0000-0000-0000-000000000000"]))

    assert client.session[ACTIVE_KEY] == before


def test_the_idle_timeout_can_be_turned_off(clinician, settings):
    settings.SESSION_IDLE_TIMEOUT = 0
    client = signed_in(clinician, active_ago=10 * 3600)

    assert client.get(DASHBOARD).status_code == 200


def test_signing_in_starts_both_clocks(clinician):
    client = Client()
    client.post(reverse("account_login"), {"login": clinician.email, "password": PASSWORD})

    assert time.time() - client.session[STARTED_KEY] < 60
    assert time.time() - client.session[ACTIVE_KEY] < 60


def test_passwords_need_twelve_characters():
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("Xk9#mQ2$vLp")  # 11
    validate_password("Xk9#mQ2$vLp4")  # 12


def test_common_passwords_are_refused_whatever_their_length():
    with pytest.raises(ValidationError, match="too common"):
        validate_password("password1234")


def test_sign_up_refuses_a_short_password(client):
    data = {"email": "short@example.org", "password1": "Xk9#mQ2$vLp", "password2": "Xk9#mQ2$vLp"}

    response = client.post(reverse("account_signup"), data)

    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()
