from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from api.models import ApiToken


def client_with_token(user: User) -> APIClient:
    _token, key = ApiToken.issue(user, "test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def api_client(clinician: User) -> APIClient:
    return client_with_token(clinician)


@pytest.fixture
def other_api_client(other_clinician: User) -> APIClient:
    return client_with_token(other_clinician)
