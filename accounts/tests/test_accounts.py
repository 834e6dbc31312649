from __future__ import annotations

import re

import pytest
from django.contrib.admin.sites import site
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.admin import UserAdmin
from accounts.models import User
from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_password_is_stored_as_a_bcrypt_hash(clinician):
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM accounts_user WHERE id = %s", [clinician.pk])
        (stored,) = cursor.fetchone()

    assert stored.startswith("bcrypt_sha256$$2b$")
    assert PASSWORD not in stored


def sign_up(client: Client, email: str):
    data = {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    return client.post(reverse("account_signup"), data, follow=True)


def confirmation_link(message) -> str:
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", message.body)
    assert link is not None, message.body
    return link.group(1)


def test_sign_up_creates_an_account_that_cannot_upload_yet(client, mailoutbox):
    sign_up(client, "new@example.org")
    assert "_auth_user_id" not in client.session  # not before the address is confirmed
    response = client.post(confirmation_link(mailoutbox[-1]), follow=True)

    user = User.objects.get(email="new@example.org")
    assert not user.can_analyze
    assert "waiting for an administrator to approve" in response.content.decode()
    upload = client.get(reverse("predictions:upload"))
    assert upload.status_code == 403
    assert "waiting for approval" in upload.content.decode()


def test_unapproved_user_cannot_post_scans(pending_user, fake_engine):
    client = Client()
    client.force_login(pending_user)

    response = client.post(reverse("predictions:upload"), {})

    assert response.status_code == 403
    assert fake_engine.calls == 0


def test_createclinician_makes_an_approved_verified_account():
    call_command("createclinician", email="Dr.Who@Example.org", password=PASSWORD)

    user = User.objects.get(email="dr.who@example.org")
    assert user.can_analyze
    assert user.check_password(PASSWORD)
    assert user.emailaddress_set.get().verified


def test_createclinician_refuses_a_weak_password():
    with pytest.raises(CommandError, match="too short|too common"):
        call_command("createclinician", email="x@example.org", password="abc")
    assert not User.objects.filter(email="x@example.org").exists()


def test_admin_action_approves_accounts_in_bulk(pending_user, rf):
    admin_user = User.objects.create_superuser("root@example.org", PASSWORD)
    request = rf.post("/")
    request.user = admin_user
    request._messages = type("M", (), {"add": lambda *a, **k: None})()

    UserAdmin(User, site).approve_as_clinicians(request, User.objects.filter(pk=pending_user.pk))

    assert User.objects.get(pk=pending_user.pk).can_analyze


def test_failed_logins_are_rate_limited(clinician, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip"}
    client = Client()
    url = reverse("account_login")
    for _ in range(3):
        client.post(url, {"login": clinician.email, "password": "wrong-password"})

    blocked = client.post(url, {"login": clinician.email, "password": PASSWORD})

    assert blocked.status_code == 429 or "Too many failed" in blocked.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_a_link_by_email(clinician, client, mailoutbox):
    response = client.post(reverse("account_reset_password"), {"email": clinician.email})

    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert clinician.email in mailoutbox[0].to
    assert "/accounts/password/reset/key/" in mailoutbox[0].body


def test_mandatory_email_verification_holds_back_a_new_account(client, settings, mailoutbox):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"

    client.post(
        reverse("account_signup"),
        {"email": "verify@example.org", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert "_auth_user_id" not in client.session
    assert any("verify@example.org" in m.to for m in mailoutbox)


def test_sign_in_and_sign_out(clinician):
    client = Client()

    client.post(reverse("account_login"), {"login": clinician.email, "password": PASSWORD})
    assert client.session["_auth_user_id"] == str(clinician.pk)

    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session


def _answer(response, email: str) -> tuple[int, list[str], str]:
    """What a visitor sees: status, the redirects taken, and the page's main text, with the
    address they typed (which the page repeats) taken out."""
    page = response.content.decode().replace(email, "EMAIL")
    main = page[page.find("<main") : page.find("</main>")]
    return response.status_code, [url for url, _ in response.redirect_chain], main


def test_sign_up_answers_the_same_whether_or_not_the_address_has_an_account(clinician, mailoutbox):
    """It used to say "A user is already registered with this email address"."""
    taken = _answer(sign_up(Client(), clinician.email), clinician.email)
    fresh = _answer(sign_up(Client(), "nobody-yet@example.org"), "nobody-yet@example.org")

    assert taken == fresh
    assert "already registered" not in taken[2]
    assert User.objects.filter(email=clinician.email).count() == 1
    to_owner = [m for m in mailoutbox if clinician.email in m.to]
    assert len(to_owner) == 1
    assert "confirm-email" not in to_owner[0].body  # "you already have an account"


def test_password_reset_answers_the_same_for_unknown_addresses(clinician):
    known = Client().post(reverse("account_reset_password"), {"email": clinician.email})
    unknown = Client().post(reverse("account_reset_password"), {"email": "who@example.org"})

    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])


def test_verifyemail_lets_an_operator_vouch_for_an_address(settings):
    user = UserFactory(email="no-mail-yet@example.org", verified=False)
    client = Client()
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session  # held back: the address is unverified

    call_command("verifyemail", user.email)

    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert client.session["_auth_user_id"] == str(user.pk)


def test_createsuperuser_accounts_can_sign_in_under_mandatory_verification():
    admin = User.objects.create_superuser("root@example.org", PASSWORD)
    client = Client()

    client.post(reverse("account_login"), {"login": admin.email, "password": PASSWORD})

    assert client.session["_auth_user_id"] == str(admin.pk)


def _admin_request(rf):
    from django.contrib.messages.storage.fallback import FallbackStorage

    request = rf.post("/")
    request.user = User.objects.create_superuser("root@example.org", PASSWORD)
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_the_approve_action_refuses_unverified_addresses_with_a_message(rf):
    verified = UserFactory(email="checked@example.org")
    unverified = UserFactory(email="unchecked@example.org", verified=False)
    request = _admin_request(rf)

    UserAdmin(User, site).approve_as_clinicians(
        request, User.objects.filter(pk__in=[verified.pk, unverified.pk])
    )

    assert User.objects.get(pk=verified.pk).can_analyze
    assert not User.objects.get(pk=unverified.pk).can_analyze
    texts = [str(m) for m in request._messages]
    assert "1 account(s) approved as clinicians." in texts
    assert any("not verified: unchecked@example.org" in text for text in texts)


def test_the_user_admin_shows_whether_the_address_is_verified(rf):
    request = _admin_request(rf)
    model_admin = UserAdmin(User, site)

    assert "email_verified" in model_admin.get_list_display(request)
    assert model_admin.email_verified(UserFactory(email="v@example.org")) is True
    assert model_admin.email_verified(UserFactory(email="u@example.org", verified=False)) is False


def test_adding_the_clinicians_group_by_hand_needs_a_verified_address(admin_client_for_groups):
    client, user, group = admin_client_for_groups

    client.post(
        reverse("admin:accounts_user_change", args=[user.pk]),
        {
            "email": user.email,
            "is_active": "on",
            "groups": [group.pk],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    assert not User.objects.get(pk=user.pk).can_analyze


@pytest.fixture
def admin_client_for_groups():
    from django.contrib.auth.models import Group

    from accounts.roles import CLINICIANS, ensure_roles

    ensure_roles()
    client = Client()
    client.force_login(User.objects.create_superuser("root@example.org", PASSWORD))
    user = UserFactory(email="by-hand@example.org", verified=False)
    return client, user, Group.objects.get(name=CLINICIANS)
