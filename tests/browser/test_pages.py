"""Issue 14, "Pages": the start page says what brainscan is and is not; sign-in, sign-up,
password reset and two-factor pages are on the site's layout with its wording; axe finds no
violations on any of them (at 1440 and 390 px)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import make_clinician
from tests.browser.axe import csp_watch, violations
from tests.browser.test_workspace import SCREENSHOTS, signed_in_context

pytestmark = pytest.mark.browser
PAGES = [
    ("/", "brainscan: a second look at brain MRI slices"),
    ("/accounts/login/", "Sign in"),
    ("/accounts/signup/", "Create account"),
    ("/accounts/password/reset/", "Password Reset"),
]


def test_start_and_account_pages(live_server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for viewport in ({"width": 1440, "height": 900}, {"width": 390, "height": 844}):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        blocked = csp_watch(page)
        for path, heading in PAGES:
            page.goto(f"{live_server.url}{path}")
            expect(page.get_by_role("heading", level=1)).to_have_text(heading)
            # The site's own layout: its header, stylesheet and cards, not allauth's bare page.
            expect(page.locator("header.site-header")).to_be_visible()
            assert violations(page) == [], path
        page.goto(f"{live_server.url}/")
        expect(page.get_by_role("heading", name="What it is not")).to_be_visible()
        expect(page.get_by_text("Not a diagnosis.", exact=True)).to_be_visible()
        page.screenshot(path=SCREENSHOTS / f"landing-{viewport['width']}.png", full_page=True)
        page.goto(f"{live_server.url}/accounts/login/")
        field = page.locator("#id_login").bounding_box()
        card = page.locator(".auth-card").bounding_box()
        assert field is not None
        assert card is not None
        assert field["width"] > 0.8 * card["width"]  # the site's full-width fields
        expect(page.get_by_role("button", name="Sign in")).to_have_class("button primary")
        page.screenshot(path=SCREENSHOTS / f"sign-in-{viewport['width']}.png", full_page=True)
        # A wrong password: the error is on the page, announced, in the site's style.
        page.fill("#id_login", "nobody@example.org")
        page.fill("#id_password", "not-the-password-123")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator(".auth-form .errors[role=alert]")).to_be_visible()
        assert violations(page) == []
        context.close()
        assert blocked == []


def test_two_factor_and_password_pages_for_a_signed_in_user(live_server, browser):
    user = make_clinician(email="dr.mfa@example.org")
    context = signed_in_context(browser, live_server.url, user)
    page = context.new_page()
    for path in ("/accounts/2fa/", "/accounts/password/change/", "/accounts/email/"):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("header.site-header")).to_be_visible()
        expect(page.get_by_role("link", name="← Your account")).to_be_visible()
        assert violations(page) == [], path
    context.close()
