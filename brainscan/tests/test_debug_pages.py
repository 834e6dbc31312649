"""Under DEBUG, Django's debug pages only for a client on this machine (brainscan/debugpages.py,
issue 14): a client elsewhere gets the site's styled 404 and 500 pages, with the same Django
test client and only REMOTE_ADDR changed."""

from __future__ import annotations

import pytest
from django.test import Client

from brainscan.tests.test_error_pages import assert_styled

pytestmark = [pytest.mark.django_db, pytest.mark.urls("brainscan.tests.debug_urls")]
LOOPBACK = ["127.0.0.1", "127.0.0.5", "::1", "::ffff:127.0.0.1"]
ELSEWHERE = ["192.168.1.20", "10.0.0.7", "2001:db8::5", "::ffff:192.168.1.20", "not-an-ip"]


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def get(path: str, address: str, **extra):
    client = Client(raise_request_exception=False, REMOTE_ADDR=address)
    return client.get(path, **extra)


@pytest.mark.parametrize("address", LOOPBACK)
def test_the_machine_itself_gets_the_debug_pages(debug, address):
    missing = get("/no-such-page/", address)
    failed = get("/test-boom/", address)

    assert missing.status_code == 404
    assert "Using the URLconf defined in" in missing.content.decode()  # Django's debug 404
    assert failed.status_code == 500
    assert "secret detail of a failing view" in failed.content.decode()  # the traceback
    assert "Traceback" in failed.content.decode()


@pytest.mark.parametrize("address", ELSEWHERE)
def test_another_machine_gets_the_sites_pages(debug, address):
    missing = get("/no-such-page/", address)
    failed = get("/test-boom/", address)

    assert missing.status_code == 404
    assert_styled(missing.content.decode(), "Page not found")
    assert "URLconf" not in missing.content.decode()
    assert failed.status_code == 500
    assert_styled(failed.content.decode(), "Something went wrong")
    for secret in ("secret detail", "Traceback", "SECRET_KEY", "settings"):
        assert secret not in failed.content.decode()


def test_another_machine_gets_no_debug_page_for_a_404_raised_by_a_view(debug, clinician):
    from django.urls import reverse

    from predictions.tests.history import make_scan

    scan = make_scan(clinician)
    client = Client(raise_request_exception=False, REMOTE_ADDR="192.168.1.20")
    client.force_login(clinician)

    response = client.get(reverse("predictions:detail", args=[scan.pk + 1000]))

    assert response.status_code == 404
    assert_styled(response.content.decode(), "Page not found")
    assert "Content-Security-Policy" in response  # the middleware's headers are kept
    if response.has_header("Content-Length"):
        assert int(response["Content-Length"]) == len(response.content)


def test_another_machine_gets_a_plain_400_and_no_traceback(debug):
    response = get("/test-suspicious/", "192.168.1.20")

    assert response.status_code == 400
    assert "secret detail" not in response.content.decode()
    assert "Traceback" not in response.content.decode()


def test_text_clients_elsewhere_get_no_traceback_either(debug):
    response = get("/test-boom/", "10.0.0.7", HTTP_ACCEPT="text/plain")

    assert response.status_code == 500
    assert response.content.decode() == "Server Error (500)"


def test_a_json_404_is_left_as_it_is(debug):
    response = get("/test-json-404/", "10.0.0.7")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_behind_a_proxy_the_forwarded_address_decides(debug, settings):
    settings.NUM_PROXIES = 1
    proxied_remote = get("/test-boom/", "127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    proxied_local = get("/test-boom/", "127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")

    assert "Traceback" not in proxied_remote.content.decode()
    assert_styled(proxied_remote.content.decode(), "Something went wrong")
    assert "Traceback" in proxied_local.content.decode()


def test_without_debug_everybody_gets_the_sites_pages():
    for address in ("127.0.0.1", "192.168.1.20"):
        assert_styled(get("/no-such-page/", address).content.decode(), "Page not found")
        assert_styled(get("/test-boom/", address).content.decode(), "Something went wrong")
