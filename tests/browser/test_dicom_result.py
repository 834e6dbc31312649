"""Issue 14, "Results a clinician can trust and trace": a DICOM slice's result page shows its
series and instance numbers (SeriesNumber, InstanceNumber) beside the viewer's slice, at 1440
and 390 px, with 0 axe violations. Screenshots: test-artifacts/screenshots/
dicom-result-{1440,390}.png.

Run: .venv/bin/pytest -m browser tests/browser/test_dicom_result.py   (needs /usr/bin/chromium)
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import make_clinician
from predictions.models import Scan
from tests.browser.axe import csp_watch, violations
from tests.browser.scans import analysed_scan
from tests.browser.test_review_desk import drawn
from tests.browser.test_workspace import SCREENSHOTS, signed_in_context

pytestmark = pytest.mark.browser
META = {
    "Modality": "MR",
    "MagneticFieldStrength": 3.0,
    "SeriesDescription": "T1 AX POST",
    "SeriesNumber": 4,
    "InstanceNumber": 17,
    "PixelSpacing": [0.5, 0.5],
    "SliceThickness": 5.0,
}


def test_a_dicom_result_shows_its_series_and_instance_numbers(live_server, browser):
    owner = make_clinician(email="dr.dicom@example.org")
    scan = analysed_scan(owner, label="meningioma", size=320)
    Scan.objects.filter(pk=scan.pk).update(source_format="DICOM", dicom_meta=META)
    context = signed_in_context(browser, live_server.url, owner)
    page = context.new_page()
    blocked = csp_watch(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server.url}/scans/{scan.pk}/")
        expect(page.locator("#dicom-numbers")).to_contain_text("series 4 · instance (image) 17")
        expect(page.locator("#dicom-numbers")).to_be_visible()
        assert drawn(page, "#result-viewer") > 5
        assert violations(page) == [], width
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.screenshot(path=SCREENSHOTS / f"dicom-result-{width}.png", full_page=True)
    context.close()
    assert blocked == []
