"""Issue 14, "The image": the result page's viewer in headless Chromium. Zoom, pan and
window/level change what the canvas draws (compared pixel by pixel), the heatmap toggles and
fades, a "no tumour" heatmap starts hidden, the keyboard drives it all, and the printed
report carries the heatmap at full opacity whatever the screen showed.

Run: .venv/bin/pytest -m browser tests/browser/test_viewer.py   (needs /usr/bin/chromium)
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.tests.factories import make_clinician, make_reviewer_user
from predictions.reviews import record_review
from tests.browser.scans import analysed_scan
from tests.browser.test_workspace import SCREENSHOTS, csp_watch, signed_in_context

pytestmark = pytest.mark.browser

# The canvas's pixels (RGBA) on a grid of every 6th row and column: enough to tell pictures
# apart, small enough to send to the test quickly.
PIXELS = """(selector) => {
  const canvas = document.querySelector(selector);
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const out = [];
  for (let y = 0; y < canvas.height; y += 6)
    for (let x = 0; x < canvas.width; x += 6) {
      const p = (y * canvas.width + x) * 4;
      out.push(data[p], data[p + 1], data[p + 2], data[p + 3]);
    }
  return out;
}"""


def pixels(page: Page, selector: str = "#result-viewer canvas.bsv-canvas") -> list[int]:
    page.wait_for_timeout(60)  # one animation frame: the viewer draws on requestAnimationFrame
    return page.evaluate(PIXELS, selector)


def difference(a: list[int], b: list[int]) -> float:
    """Mean absolute difference per channel value (0-255)."""
    assert len(a) == len(b)
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def red_excess(values: list[int]) -> float:
    """How much red beyond gray the picture holds: the heatmap's warm colours."""
    return sum(max(values[i] - values[i + 2], 0) for i in range(0, len(values), 4)) / len(values)


def viewer_ready(page: Page) -> None:
    page.wait_for_function(
        "() => { const v = document.getElementById('result-viewer');"
        " return v && v.brainscanViewer && v.brainscanViewer.buffer; }"
    )
    page.wait_for_timeout(100)


def state(page: Page) -> dict:
    return page.evaluate("document.getElementById('result-viewer').brainscanViewer.getState()")


def test_zoom_pan_and_window_level_change_what_is_drawn(live_server, browser, model_card):
    owner = make_clinician(email="dr.viewer@example.org")
    scan = analysed_scan(owner, label="glioma")
    context = signed_in_context(browser, live_server.url, owner)
    page = context.new_page()
    blocked = csp_watch(page)
    elsewhere: list[str] = []  # works offline: nothing is fetched from another origin
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith((live_server.url, "data:", "blob:"))
            else elsewhere.append(r.url)
        ),
    )
    page.goto(f"{live_server.url}/scans/{scan.pk}/")
    viewer_ready(page)
    canvas = page.locator("#result-viewer canvas.bsv-canvas")

    # At a useful size: most of the 1440 px viewport, not a thumbnail.
    box = canvas.bounding_box()
    assert box is not None
    assert box["width"] >= 0.6 * 1440
    start = pixels(page)
    assert red_excess(start) > 0.1  # a glioma result shows its heatmap at once

    # Zoom with the button: the picture changes, and Reset brings back exactly the first one.
    page.get_by_role("button", name="Zoom in").click()
    expect(page.locator("#result-viewer .bsv-zoom")).to_have_text("125\u00a0%")
    zoomed = pixels(page)
    assert difference(start, zoomed) > 2
    page.get_by_role("button", name="Reset", exact=True).click()
    assert pixels(page) == start

    # The wheel zooms around the pointer.
    canvas.hover()
    page.mouse.wheel(0, -400)
    assert state(page)["zoom"] > 1.5
    assert difference(start, pixels(page)) > 2
    page.get_by_role("button", name="Reset", exact=True).click()

    # Dragging pans: the same picture moved, so the canvas differs, and the view centre moved.
    page.get_by_role("button", name="Zoom in").click()
    before = pixels(page)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 60, steps=6)
    page.mouse.up()
    assert state(page)["centerX"] < 128  # the image moved right: the centre is further left
    assert difference(before, pixels(page)) > 2
    page.get_by_role("button", name="Reset", exact=True).click()

    # Window/level: drag with the tool, and presets. Contrast changes, geometry does not.
    page.get_by_role("button", name="Hide heatmap").click()
    plain = pixels(page)
    assert red_excess(plain) < 0.01  # only the gray slice now
    page.get_by_role("button", name="Window/level").click()
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 200, y + 100, steps=5)
    page.mouse.up()
    windowed = state(page)
    assert windowed["windowWidth"] < 256
    assert windowed["preset"] == "custom"
    assert difference(plain, pixels(page)) > 3
    expect(page.locator("#result-viewer .bsv-select")).to_have_value("custom")
    page.select_option("#result-viewer .bsv-select", "high")
    assert (state(page)["windowCenter"], state(page)["windowWidth"]) == (128, 128)
    high = pixels(page)
    page.select_option("#result-viewer .bsv-select", "original")
    assert pixels(page) == plain
    assert difference(plain, high) > 3

    # Heatmap opacity: fainter at 30 %, none at 0.
    page.get_by_role("button", name="Show heatmap").click()
    full = red_excess(pixels(page))
    page.locator("#result-viewer .bsv-opacity").fill("30")
    faint = red_excess(pixels(page))
    assert 0 < faint < full * 0.5
    expect(page.locator("#result-viewer .bsv-opacity-value")).to_have_text("30\u00a0%")

    # The keyboard alone: focus the image, zoom, pan, window, reset.
    canvas.focus()
    page.keyboard.press("+")
    assert state(page)["zoom"] == pytest.approx(1.25)
    page.keyboard.press("ArrowLeft")  # look further left: the image moves right
    assert state(page)["centerX"] < 128
    page.keyboard.press("Shift+ArrowLeft")
    assert state(page)["windowWidth"] == 248
    page.keyboard.press("h")
    assert state(page)["overlayVisible"] is False
    page.keyboard.press("0")
    assert state(page)["zoom"] == 1
    assert state(page)["windowWidth"] == 256

    # A pinch (two touch pointers moving apart) zooms in.
    page.keyboard.press("0")
    page.evaluate(
        """() => {
          const c = document.querySelector('#result-viewer canvas.bsv-canvas');
          const b = c.getBoundingClientRect();
          const at = (id, type, x, y) => c.dispatchEvent(new PointerEvent(type, {
            pointerId: id, pointerType: 'touch', isPrimary: id === 1, bubbles: true,
            clientX: b.left + x, clientY: b.top + y }));
          at(1, 'pointerdown', 300, 300); at(2, 'pointerdown', 400, 300);
          at(2, 'pointermove', 450, 300); at(2, 'pointermove', 500, 300);
          at(1, 'pointerup', 300, 300); at(2, 'pointerup', 500, 300);
        }"""
    )
    assert state(page)["zoom"] == pytest.approx(2.0, rel=0.01)  # the fingers' distance doubled

    # Full screen, and back.
    page.get_by_role("button", name="Full screen").click()
    page.wait_for_function("() => document.fullscreenElement !== null")
    expect(page.get_by_role("button", name="Exit full screen")).to_be_visible()
    page.get_by_role("button", name="Exit full screen").click()
    page.wait_for_function("() => document.fullscreenElement === null")

    context.close()
    assert blocked == []
    assert elsewhere == []


def test_a_no_tumour_heatmap_is_hidden_until_asked_for(live_server, browser, model_card):
    owner = make_clinician(email="dr.normal@example.org")
    scan = analysed_scan(owner, label="notumor")
    context = signed_in_context(browser, live_server.url, owner)
    page = context.new_page()
    page.goto(f"{live_server.url}/scans/{scan.pk}/")
    viewer_ready(page)
    note = page.locator("#heatmap-hidden-note")
    expect(note).to_contain_text('hidden because the answer is "no tumour"')
    expect(note).to_contain_text("the evidence for Glioma")
    assert red_excess(pixels(page)) < 0.01
    page.get_by_role("button", name="Show heatmap").click()
    assert red_excess(pixels(page)) > 0.1
    expect(note).to_be_hidden()
    context.close()


def test_the_printed_report(live_server, browser, model_card):
    """Full-opacity heatmap whatever the screen shows, the reviewer's verdict, the clinician's
    name, a notes and signature area; no status chip, no timings, no viewer controls."""
    owner = make_clinician(email="dr.report@example.org", full_name="Dr A. Report")
    radiologist = make_reviewer_user(email="rad.report@example.org", full_name="Dr R. Adiologist")
    scan = analysed_scan(owner, label="glioma")
    record_review(scan.prediction, radiologist, verdict="corrected", label="meningioma")
    context = signed_in_context(browser, live_server.url, owner)
    page = context.new_page()
    page.goto(f"{live_server.url}/scans/{scan.pk}/")
    viewer_ready(page)
    page.locator("#result-viewer .bsv-opacity").fill("10")  # faint on screen

    page.emulate_media(media="print")
    expect(page.locator("#result-viewer")).to_be_hidden()
    printed = page.locator(".print-images img").nth(1)
    expect(printed).to_be_visible()
    assert printed.get_attribute("src") == f"/scans/{scan.pk}/overlay.png"  # the full overlay
    assert printed.evaluate("img => getComputedStyle(img).opacity") == "1"
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
    expect(page.locator("#review-headline h2")).to_have_text(
        "Reviewer: Meningioma (AI said: Glioma)"
    )
    expect(page.locator("#print-clinician")).to_have_text("Clinician: Dr A. Report")
    expect(page.locator(".print-notes")).to_be_visible()
    expect(page.locator(".print-signature")).to_contain_text("Signature")
    expect(page.locator(".meta .status")).to_be_hidden()  # no "✓ Done" chip
    expect(page.locator(".timings")).to_be_hidden()
    expect(page.locator("#technical-details")).to_be_hidden()
    page.set_viewport_size({"width": 718, "height": 1032})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "report-print-reviewed.png", full_page=True)
    page.emulate_media(media="null")
    report = page.pdf(prefer_css_page_size=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", report)) == 1  # one A4 page
    context.close()
