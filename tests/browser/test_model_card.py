"""Issue 14, "Pages": the model card page for clinicians, on the shipped card, in headless
Chromium at 1440 and 390 px: intended use first, training details folded until asked for,
labelled confusion matrices, no server path in what the page shows, 0 axe violations (closed
and open). Screenshots: test-artifacts/screenshots/model-card-{1440,390}.png.

Run: .venv/bin/pytest -m browser tests/browser/test_model_card.py   (needs /usr/bin/chromium)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import make_clinician
from ml.artifacts import ARTIFACTS_DIR
from tests.browser.axe import csp_watch, violations
from tests.browser.test_workspace import SCREENSHOTS, signed_in_context

pytestmark = pytest.mark.browser


@pytest.fixture
def shipped_card(settings, tmp_path: Path) -> None:
    settings.MODEL_PATH = tmp_path / "brainscan.keras"
    shutil.copy(ARTIFACTS_DIR / "model_card.json", tmp_path / "model_card.json")


def test_the_model_card_page(live_server, browser, shipped_card):
    user = make_clinician(email="dr.card@example.org")
    context = signed_in_context(browser, live_server.url, user)
    page = context.new_page()
    blocked = csp_watch(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server.url}/scans/model/")
        headings = page.locator("main h2").all_inner_texts()
        assert headings[:2] == ["Intended use", "Known limits"]
        assert headings[-1] == "Training details"
        expect(page.locator("#intended-use")).to_be_in_viewport()
        folded = page.locator("#training-details details")
        expect(folded).not_to_have_attribute("open", "")
        expect(page.get_by_text("Epochs run")).to_be_hidden()
        matrix = page.locator("#performance-test table.matrix")
        expect(matrix.locator("thead th")).to_have_text(
            ["Glioma", "Meningioma", "No tumour", "Pituitary tumour"]
        )
        assert violations(page) == [], width
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.screenshot(path=SCREENSHOTS / f"model-card-{width}.png", full_page=True)

        page.locator("#training-details summary").click()
        expect(page.get_by_text("Epochs run")).to_be_visible()
        shown = page.locator("main").inner_text()
        for path in ("/work/", "/home/", "var/", ".keras", "../"):
            assert path not in shown, path
        assert violations(page) == [], width
    context.close()
    assert blocked == []
