"""Issue 14, "Pages": the 404, 403, CSRF-failure and 500 pages, as a browser gets them,
have no axe violations at desktop and phone widths and break no CSP rule."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from playwright.sync_api import expect

from accounts.tests.factories import make_clinician
from tests.browser.axe import csp_watch, violations
from tests.browser.test_workspace import signed_in_context

pytestmark = pytest.mark.browser
VIEWPORTS = ({"width": 1440, "height": 900}, {"width": 390, "height": 844})


def _post_without_token(page, url: str) -> None:
    """Submit a form with no CSRF token, as an expired page would."""
    page.evaluate(
        """url => { const f = document.createElement('form'); f.method = 'post';
                    f.action = url; document.body.appendChild(f); f.submit(); }""",
        url,
    )


def test_error_pages_are_accessible_at_both_widths(live_server, browser):
    clinician = make_clinician(email="dr.errors@example.org")
    for viewport in VIEWPORTS:
        context = signed_in_context(browser, live_server.url, clinician)
        page = context.new_page()
        page.set_viewport_size(viewport)
        blocked = csp_watch(page)

        response = page.goto(f"{live_server.url}/no-such-page/")
        assert response is not None
        assert response.status == 404
        expect(page.locator("header.site-header")).to_be_visible()
        assert violations(page) == [], "404"

        response = page.goto(f"{live_server.url}/scans/model-in-use/")  # reviewers only
        assert response is not None
        assert response.status == 403
        assert violations(page) == [], "403"

        with page.expect_navigation() as navigation:
            _post_without_token(page, f"{live_server.url}/accounts/logout/")
        assert navigation.value is not None
        assert navigation.value.status == 403
        expect(page.locator("main")).to_contain_text("form")
        assert violations(page) == [], "CSRF failure"

        # A 500 cannot be caused on purpose here; its template needs no request context,
        # so the page is drawn from it at the site's address (same stylesheet, same CSP).
        page.goto(f"{live_server.url}/no-such-page/")
        page.set_content(render_to_string("500.html"))
        expect(page.locator("header.site-header")).to_be_visible()
        assert violations(page) == [], "500"
        assert blocked == []
        context.close()
