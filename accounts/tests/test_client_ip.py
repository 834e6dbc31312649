"""One client address for the audit log, allauth's rate limits and the API throttles.

Behind 0, 1 and 2 proxies, and with a forged X-Forwarded-For when no proxy is configured. The
lockout scenario of issue 15: behind one proxy, ten wrong passwords from one client must not
refuse another user's correct password from another client.
"""

from __future__ import annotations

from typing import Any

import pytest
from allauth.account.adapter import get_adapter
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.tests.factories import PASSWORD, make_clinician
from api.throttling import TokenRateThrottle
from audit.models import AuditEvent
from brainscan.clientip import client_ip

pytestmark = pytest.mark.django_db

# (NUM_PROXIES, REMOTE_ADDR, X-Forwarded-For, the client's address)
TOPOLOGIES = [
    pytest.param(0, "198.51.100.7", "", "198.51.100.7", id="no-proxy"),
    pytest.param(0, "198.51.100.7", "1.1.1.1", "198.51.100.7", id="no-proxy-forged-xff"),
    pytest.param(1, "10.0.0.2", "203.0.113.9", "203.0.113.9", id="one-proxy"),
    pytest.param(1, "10.0.0.2", "6.6.6.6, 203.0.113.9", "203.0.113.9", id="one-proxy-forged"),
    pytest.param(2, "10.0.0.3", "203.0.113.9, 10.0.0.2", "203.0.113.9", id="two-proxies"),
    pytest.param(
        2, "10.0.0.3", "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9", id="two-proxies-forged"
    ),
]


def _request(remote: str, forwarded: str):
    headers: dict[str, Any] = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    return RequestFactory().post("/", REMOTE_ADDR=remote, **headers)


@pytest.mark.parametrize(("proxies", "remote", "forwarded", "expected"), TOPOLOGIES)
def test_every_consumer_reads_the_same_address(settings, proxies, remote, forwarded, expected):
    settings.NUM_PROXIES = proxies
    request = _request(remote, forwarded)

    assert client_ip(request) == expected
    assert get_adapter(request).get_client_ip(request) == expected  # allauth's rate limits
    assert TokenRateThrottle().get_ident(request) == expected  # DRF throttles by address


@pytest.mark.parametrize(("proxies", "remote", "forwarded", "expected"), TOPOLOGIES)
def test_the_audit_log_records_that_address(settings, proxies, remote, forwarded, expected):
    settings.NUM_PROXIES = proxies
    user = make_clinician(email="audited@example.org")
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}

    Client(REMOTE_ADDR=remote, **headers).post(
        reverse("account_login"), {"login": user.email, "password": PASSWORD}
    )

    assert AuditEvent.objects.get(action=AuditEvent.Action.LOGIN).ip == expected


def _login(remote: str, forwarded: str, email: str, password: str) -> Client:
    headers: dict[str, Any] = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    client = Client(REMOTE_ADDR=remote, **headers)
    client.post(reverse("account_login"), {"login": email, "password": password})
    return client


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize(
    ("proxies", "proxy_addr", "attacker_xff", "victim_xff"),
    [
        pytest.param(1, "10.0.0.2", "1.1.1.1", "3.3.3.3", id="one-proxy"),
        pytest.param(2, "10.0.0.3", "1.1.1.1, 10.0.0.2", "3.3.3.3, 10.0.0.2", id="two-proxies"),
    ],
)
def test_one_client_cannot_lock_everyone_out_behind_the_proxy(
    settings, proxies, proxy_addr, attacker_xff, victim_xff
):
    """Issue 15's scenario, with the shipped limit (10 failed sign-ins a minute per address)."""
    settings.NUM_PROXIES = proxies
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
    victim = make_clinician(email="victim@example.org")
    for n in range(10):  # different accounts, so the per-account limit stays out of the way
        _login(proxy_addr, attacker_xff, f"guess{n}@example.org", "wrong-password")

    assert _signed_in(_login(proxy_addr, victim_xff, victim.email, PASSWORD))
    make_clinician(email="attacker@example.org")
    assert not _signed_in(_login(proxy_addr, attacker_xff, "attacker@example.org", PASSWORD))


def test_a_forged_header_does_not_escape_the_limit_without_a_proxy(settings):
    """With NUM_PROXIES=0 a client rotating X-Forwarded-For is still one address."""
    settings.NUM_PROXIES = 0
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip"}
    user = make_clinician(email="rotating@example.org")
    for n in range(3):
        _login("198.51.100.7", f"1.1.1.{n}", f"guess{n}@example.org", "wrong-password")

    assert not _signed_in(_login("198.51.100.7", "9.9.9.9", user.email, PASSWORD))
    assert _signed_in(_login("198.51.100.8", "", user.email, PASSWORD))


def test_sign_up_limits_count_the_client_not_the_proxy(settings):
    settings.NUM_PROXIES = 1
    settings.ACCOUNT_RATE_LIMITS = {"signup": "2/m/ip"}
    url = reverse("account_signup")

    def sign_up(forwarded: str, email: str) -> int:
        client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
        data = {"email": email, "password1": PASSWORD, "password2": PASSWORD}
        return client.post(url, data).status_code

    assert [sign_up("1.1.1.1", f"flood{n}@example.org") for n in range(3)][-1] == 429
    assert sign_up("3.3.3.3", "honest@example.org") == 302
