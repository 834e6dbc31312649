"""Two-factor sign-in (allauth TOTP + recovery codes) in our layout, and its requirement for reviewers."""

from __future__ import annotations

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.roles import approve_clinician, make_reviewer
from accounts.tests.factories import PASSWORD, UserFactory, make_reviewer_user
from api.models import ApiToken

pytestmark = pytest.mark.django_db
SETUP = reverse("mfa_activate_totp")


def current_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def signed_in(user) -> Client:
    """Signed in, with the password confirmed again: allauth asks that before MFA changes."""
    client = Client()
    client.force_login(user)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    return client


@pytest.mark.parametrize("name", ["mfa_index", "mfa_activate_totp"])
def test_mfa_pages_render_in_our_layout(clinician, name):
    response = signed_in(clinician).get(reverse(name))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'class="site-header"' in page
    assert "Decision support, not a diagnosis" in page


def test_the_account_page_links_to_two_factor_setup(clinician_client):
    page = clinician_client.get(reverse("accounts:home")).content.decode()

    assert f'href="{reverse("mfa_index")}"' in page


def test_a_user_turns_on_totp_and_then_sign_in_asks_for_the_code(clinician, settings):
    settings.MFA_TOTP_TOLERANCE = 1  # a code computed at a 30 s boundary is still accepted
    client = signed_in(clinician)
    client.get(SETUP)
    secret = client.session[SECRET_SESSION_KEY]

    client.post(SETUP, {"code": current_code(secret)})

    assert Authenticator.objects.filter(user=clinician, type=Authenticator.Type.TOTP).exists()
    fresh = Client()
    response = fresh.post(
        reverse("account_login"), {"login": clinician.email, "password": PASSWORD}
    )
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in fresh.session


def test_the_admin_sign_in_goes_through_allauth(client):
    response = client.get(reverse("admin:login"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_reviewer_without_mfa_is_sent_to_setup_when_required(reviewer_client, settings):
    settings.REQUIRE_MFA_FOR_REVIEWERS = True

    for url in (reverse("admin:index"), reverse("predictions:model-in-use")):
        response = reviewer_client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(SETUP)
    assert reviewer_client.get(SETUP, follow=True).status_code == 200  # via reauthentication
    assert reviewer_client.get(reverse("accounts:home")).status_code == 200


def test_reviewer_with_totp_reaches_the_admin_when_required(reviewer_client, reviewer, settings):
    settings.REQUIRE_MFA_FOR_REVIEWERS = True
    TOTP.activate(reviewer, generate_totp_secret())

    assert reviewer_client.get(reverse("admin:index")).status_code == 200


def test_without_the_setting_reviewers_need_no_mfa(reviewer_client, settings):
    settings.REQUIRE_MFA_FOR_REVIEWERS = False

    assert reviewer_client.get(reverse("admin:index")).status_code == 200


def test_clinicians_are_not_asked_for_mfa(clinician_client, settings):
    settings.REQUIRE_MFA_FOR_REVIEWERS = True

    assert clinician_client.get(reverse("predictions:dashboard")).status_code == 200


@pytest.fixture
def reviewing_clinician(db):
    """A reviewer who also uploads scans, so the token page is open to them."""
    user = make_reviewer_user(email="rex@example.org")
    approve_clinician(user)
    return type(user).objects.get(pk=user.pk)


def test_a_reviewer_without_mfa_cannot_create_an_api_token_when_required(
    reviewing_clinician, settings
):
    """/api/tokens/new is a session page: the /api/ prefix used to exempt it."""
    settings.REQUIRE_MFA_FOR_REVIEWERS = True
    client = Client()
    client.force_login(reviewing_clinician)

    response = client.post(reverse("api:token-create"), {"name": "script"})

    assert response.status_code == 302
    assert response["Location"].startswith(SETUP)
    assert not ApiToken.objects.filter(user=reviewing_clinician).exists()


def test_token_authenticated_api_calls_stay_exempt(reviewing_clinician, settings):
    """The API never reads the session, so a browser session beside the token changes nothing."""
    settings.REQUIRE_MFA_FOR_REVIEWERS = True
    _token, key = ApiToken.issue(reviewing_clinician, "script")
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    client.force_login(reviewing_clinician)

    assert client.get(reverse("api:scans")).status_code == 200


def test_a_reviewer_without_working_mail_is_not_stuck_at_mfa_setup(settings):
    """allauth lets only verified addresses turn on TOTP; an operator's verifyemail unblocks
    a reviewer whose confirmation mail cannot arrive."""
    settings.REQUIRE_MFA_FOR_REVIEWERS = True
    settings.MFA_TOTP_TOLERANCE = 1
    user = UserFactory(email="no-mail@example.org", verified=False)
    make_reviewer(user)

    def try_to_activate() -> bool:
        client = signed_in(user)
        client.get(SETUP)
        secret = client.session.get(SECRET_SESSION_KEY)
        if secret is None:  # allauth did not even offer the set-up
            return False
        client.post(SETUP, {"code": current_code(secret)})
        return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()

    assert not try_to_activate()
    call_command("verifyemail", user.email)
    assert try_to_activate()
