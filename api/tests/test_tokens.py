from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from api.models import ApiToken, hash_key

pytestmark = pytest.mark.django_db
SCANS = reverse("api:scans")


def api_get(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(SCANS).status_code


def test_only_a_hash_of_the_key_is_stored(clinician):
    token, key = ApiToken.issue(clinician, "PACS bridge")

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_apitoken WHERE id = %s", [token.pk])
        row = cursor.fetchone()
    assert key not in [str(value) for value in row]
    assert token.key_hash == hash_key(key)
    assert key.startswith(token.prefix)


def test_clinician_creates_a_token_on_the_account_page_and_it_works(clinician_client, clinician):
    response = clinician_client.post(reverse("api:token-create"), {"name": "PACS bridge"})

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = response.context["key"]
    assert key in response.content.decode()
    assert ApiToken.objects.get().user == clinician
    assert api_get(key) == 200
    account_page = clinician_client.get(reverse("accounts:home")).content.decode()
    assert "PACS bridge" in account_page
    assert ApiToken.objects.get().prefix in account_page
    assert key not in account_page


def test_unapproved_account_cannot_create_tokens(pending_user, client):
    client.force_login(pending_user)

    response = client.post(reverse("api:token-create"), {"name": "x"})

    assert response.status_code == 403
    assert not ApiToken.objects.exists()


def test_revoked_token_stops_working(clinician_client, clinician):
    token, key = ApiToken.issue(clinician, "old script")
    assert api_get(key) == 200

    response = clinician_client.post(reverse("api:token-revoke", args=[token.pk]))

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert api_get(key) == 401


def test_nobody_can_revoke_another_users_token(other_client, clinician):
    token, key = ApiToken.issue(clinician, "mine")

    response = other_client.post(reverse("api:token-revoke", args=[token.pk]))

    assert response.status_code == 404
    assert api_get(key) == 200


def test_token_of_a_disabled_account_stops_working(clinician):
    _token, key = ApiToken.issue(clinician, "x")
    clinician.is_active = False
    clinician.save()

    assert api_get(key) == 401


def test_issuetoken_prints_a_working_key(clinician):
    out, err = io.StringIO(), io.StringIO()

    call_command("issuetoken", "Alice@Example.org", stdout=out, stderr=err)

    key = out.getvalue().strip()
    assert api_get(key) == 200
    assert "shown once" in err.getvalue()


def test_issuetoken_refuses_an_unknown_address(db):
    with pytest.raises(CommandError, match="No account"):
        call_command("issuetoken", "nobody@example.org")
