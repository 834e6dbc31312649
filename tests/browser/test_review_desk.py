"""Issue 14, "The review desk", in headless Chromium: a reviewer lands on the desk, walks the
queue with the keyboard (A, C, N, Enter), sees the result page's viewer, and does a blind read
(image first, AI answer after the first impression). axe finds no violations on the desk's
pages, nor on the result page. Screenshots of the viewer at 1440 and 390 px go to
test-artifacts/screenshots/ (copied into docs/screenshots/ for the README).

Run: .venv/bin/pytest -m browser tests/browser/test_review_desk.py   (needs /usr/bin/chromium)
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.tests.factories import make_clinician, make_reviewer_user
from predictions.models import Prediction
from tests.browser.axe import csp_watch, violations
from tests.browser.scans import analysed_scan
from tests.browser.test_workspace import SCREENSHOTS, signed_in_context

pytestmark = pytest.mark.browser


def drawn(page: Page, selector: str) -> float:
    """Mean brightness of a viewer's canvas once it has drawn (0 = nothing drawn yet)."""
    page.wait_for_function(
        "(s) => { const v = document.querySelector(s); return v && v.brainscanViewer &&"
        " v.brainscanViewer.buffer; }",
        arg=selector,
    )
    page.wait_for_timeout(100)
    return page.evaluate(
        """(s) => { const c = document.querySelector(s + ' canvas.bsv-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let sum = 0; for (let i = 0; i < d.length; i += 4) sum += d[i];
        return sum / (d.length / 4); }""",
        selector,
    )


def queue_of(owner, labels):
    scans = []
    for age, label in enumerate(labels):
        created = timezone.now() - dt.timedelta(days=10 - age)
        scans.append(analysed_scan(owner, label=label, created_at=created))
    return scans


def test_the_reviewer_walks_the_queue_with_the_keyboard(live_server, browser):
    owner = make_clinician(email="dr.queue@example.org")
    oldest, middle, newest = queue_of(owner, ["glioma", "meningioma", "notumor"])
    reviewer = make_reviewer_user(email="rad.queue@example.org", full_name="Dr Q. Ueue")
    context = signed_in_context(browser, live_server.url, reviewer)
    page = context.new_page()
    blocked = csp_watch(page)

    # Landing on the site goes to the desk, not an empty "Your scans".
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/admin/predictions/prediction/?reviewed=no")
    expect(page.locator("#queue-waiting")).to_have_text("3")
    assert violations(page) == []

    page.get_by_role("link", name="Next unreviewed").click()
    expect(page).to_have_url(
        f"{live_server.url}/admin/predictions/prediction/{oldest.prediction.pk}/change/"
    )
    assert drawn(page, "#review-viewer") > 5  # the same viewer as the result page
    expect(page.locator(".field-confidence_shown .readonly")).to_have_text("91.0\u00a0%")
    assert violations(page) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "review-desk-1440.png")

    # A, then Enter: "Agrees" recorded, and the next one opens.
    page.locator("body").press("a")
    expect(page.locator("#id_review_verdict")).to_have_value("agree")
    expect(page.locator("#save-next")).to_be_focused()
    expect(page.locator("#desk-status")).to_contain_text("press Enter to record it")
    page.keyboard.press("Enter")
    expect(page).to_have_url(
        f"{live_server.url}/admin/predictions/prediction/{middle.prediction.pk}/change/"
    )
    page.wait_for_timeout(500)
    oldest.prediction.refresh_from_db()
    assert (oldest.prediction.review_verdict, oldest.prediction.reviewed_by) == ("agree", reviewer)

    # N skips to the next without recording; C starts a correction.
    page.locator("body").press("n")
    expect(page).to_have_url(
        f"{live_server.url}/admin/predictions/prediction/{newest.prediction.pk}/change/"
    )
    middle.prediction.refresh_from_db()
    assert middle.prediction.review_verdict == ""
    page.locator("body").press("c")
    expect(page.locator("#id_review_verdict")).to_have_value("corrected")
    expect(page.locator("#id_review_label")).to_be_focused()
    page.select_option("#id_review_label", "glioma")
    page.click("#save-next")
    newest.prediction.refresh_from_db()
    assert (newest.prediction.review_verdict, newest.prediction.review_label) == (
        "corrected",
        "glioma",
    )
    # Highest risk first: of what is left, the skipped meningioma.
    page.goto(f"{live_server.url}/admin/predictions/prediction/next/?order=risk")
    expect(page).to_have_url(
        f"{live_server.url}/admin/predictions/prediction/{middle.prediction.pk}/change/"
    )
    context.close()
    assert blocked == [], (blocked, page.url)


def test_a_blind_read_shows_the_image_first_and_the_answer_after(live_server, browser):
    owner = make_clinician(email="dr.blind@example.org")
    (scan,) = queue_of(owner, ["meningioma"])
    reviewer = make_reviewer_user(email="rad.blind@example.org")
    context = signed_in_context(browser, live_server.url, reviewer)
    page = context.new_page()
    blocked = csp_watch(page)
    page.goto(f"{live_server.url}/admin/predictions/prediction/")
    page.get_by_role("button", name="Turn blind read on").click()
    expect(page.locator(".messagelist")).to_contain_text("Blind read is on")
    expect(page.locator("th.column-label")).to_have_count(0)  # no AI answer in the list

    page.get_by_role("link", name="Next unreviewed").click()
    expect(page.get_by_role("heading", name="Your first impression")).to_be_visible()
    assert drawn(page, "#review-viewer") > 5
    expect(page.get_by_role("button", name="Show heatmap")).to_have_count(0)
    expect(page.get_by_text("Meningioma", exact=True)).to_have_count(1)  # the radio only
    assert violations(page) == []
    page.screenshot(path=SCREENSHOTS / "blind-read-1440.png")
    page.get_by_label("Glioma").check()
    page.get_by_role("button", name="Record my first impression and show the AI's answer").click()

    expect(page.locator(".field-label .readonly")).to_have_text("Meningioma")
    expect(page.locator(".field-first_impression_shown .readonly")).to_contain_text(
        "Glioma, by rad.blind@example.org"
    )
    expect(page.get_by_role("button", name="Hide heatmap")).to_be_visible()
    page.select_option("#id_review_verdict", "agree")
    page.click("#save-next")
    prediction = Prediction.objects.get(pk=scan.prediction.pk)
    assert (prediction.first_impression, prediction.review_verdict) == ("glioma", "agree")

    # "Model in use" measures the agreement both ways.
    page.goto(f"{live_server.url}/scans/model-in-use/")
    expect(page.locator("#blind-1")).to_contain_text(
        "1: the AI matched the reviewer's first impression in 0 (0.0"
    )
    assert violations(page) == []
    context.close()
    assert blocked == [], (blocked, page.url)


def test_the_viewer_pages_have_no_axe_violations_and_their_screenshots(live_server, browser):
    owner = make_clinician(email="dr.axe@example.org")
    scan = analysed_scan(owner, label="glioma", size=320)
    context = signed_in_context(browser, live_server.url, owner)
    page = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server.url}/scans/{scan.pk}/")
        assert drawn(page, "#result-viewer") > 5
        canvas = page.locator("#result-viewer canvas.bsv-canvas").bounding_box()
        assert canvas is not None
        assert canvas["width"] >= (0.6 if width > 900 else 0.99) * width
        page.get_by_role("button", name="Zoom in").click()
        page.wait_for_timeout(100)
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.screenshot(path=SCREENSHOTS / f"viewer-{width}.png", full_page=width < 900)
        assert violations(page) == []
    for path in ("/scans/", "/scans/upload/", f"/scans/batch/{scan.batch}/", "/account/"):
        page.goto(f"{live_server.url}{path}")
        assert violations(page) == [], path
    context.close()
