"""The clinician workspace in a real browser: headless Chromium against a live server.

sign up -> approved by an admin in the admin site -> sign in -> upload three images at once
-> the batch page updates by itself -> a result with its heatmap -> the photo is rejected ->
filter the history -> export it as CSV -> sign out. Screenshots of each page, at desktop and
phone widths, go to test-artifacts/screenshots/.

Run: .venv/bin/pytest -m browser tests/browser   (needs /usr/bin/chromium)
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright
from skimage import data as skimage_data
from skimage.filters import gaussian

from accounts.models import User
from ml.serving.overlay import heatmap_png, overlay_png
from predictions.models import Prediction, Scan
from predictions.tasks import run_prediction
from predictions.tests.fakes import REJECTED, FakeAnalysis

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1440, "height": 900}
PHONE: ViewportSize = {"width": 375, "height": 812}
PASSWORD = "a-long-test-passphrase-42"
CLINICIAN = "dr.jones@example.org"
ADMIN = "admin@example.org"


class FakeColourAwareEngine:
    """A FAKE engine for this test, not a model: it rejects colourful images (a photo) and
    calls greyscale slices glioma (256 px and larger) or no tumour (smaller), with a blob
    heatmap. The real model in a browser is a separate, later check."""

    version = "fake-browser-1"
    sha256 = "f" * 64

    def analyze(self, image: bytes, *, explain: bool = True) -> FakeAnalysis:
        rgb = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"), dtype=np.float32)
        colourfulness = np.abs(np.diff(rgb, axis=2)).mean()
        if colourfulness > 8:
            return dataclasses.replace(REJECTED, model_version=self.version, gate_score=4.2)
        gray = rgb.mean(axis=2).astype(np.uint8)
        height, width = gray.shape
        yy, xx = np.mgrid[:height, :width]
        heat = np.exp(-(((xx - 0.62 * width) ** 2 + (yy - 0.4 * height) ** 2) / (0.02 * width**2)))
        glioma = width >= 256
        probabilities = (
            {"glioma": 0.86, "meningioma": 0.08, "notumor": 0.03, "pituitary": 0.03}
            if glioma
            else {"glioma": 0.02, "meningioma": 0.03, "notumor": 0.93, "pituitary": 0.02}
        )
        label = max(probabilities, key=probabilities.__getitem__)
        return FakeAnalysis(
            label=label,
            probabilities=probabilities,
            confidence=probabilities[label],
            tumour_probability=round(1 - probabilities["notumor"], 4),
            risk="high" if glioma else "low",
            gate_score=0.35,
            heatmap_png=heatmap_png(heat),
            overlay_png=overlay_png(gray, heat),
            heatmap_inside_brain=0.93,
            width=width,
            height=height,
            timings_ms={"decode": 2.1, "gate": 4.0, "model": 38.0, "gradcam": 21.5, "total": 70.2},
            model_version=self.version,
            model_sha256=self.sha256,
        )


def synthetic_slice(size: int, seed: int) -> np.ndarray:
    """A greyscale image shaped like an axial MRI slice: skull ring, brain, ventricles."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    r = ((xx - 0.5) / 0.38) ** 2 + ((yy - 0.5) / 0.45) ** 2
    image = np.where(r < 1.0, 0.85, 0.0) * (r > 0.86)  # skull
    brain = gaussian(rng.normal(0.45, 0.25, (size, size)), sigma=size / 60) * (r < 0.86)
    image = image + brain
    ventricles = (((xx - 0.46) / 0.05) ** 2 + ((yy - 0.5) / 0.12) ** 2 < 1) | (
        ((xx - 0.54) / 0.05) ** 2 + ((yy - 0.5) / 0.12) ** 2 < 1
    )
    image[ventricles] = 0.12
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / "slice-a.png", tmp_path / "slice-b.jpg", tmp_path / "holiday.jpg"]
    Image.fromarray(synthetic_slice(320, seed=1)).save(paths[0])
    Image.fromarray(synthetic_slice(224, seed=2)).save(paths[1], quality=92)
    Image.fromarray(skimage_data.astronaut()).save(paths[2], quality=90)
    return paths


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Stand in for the broker: the test plays the worker, so the page has time to show
    "Queued" before the results arrive. The engine is the fake above."""
    sent: list[int] = []
    monkeypatch.setattr("predictions.tasks.enqueue_prediction", sent.append)
    engine = FakeColourAwareEngine()
    monkeypatch.setattr("predictions.tasks._engine", lambda: engine)
    return sent


@pytest.fixture
def model_card(settings, tmp_path: Path) -> None:
    """A model card for the fake engine's version, so the result page can explain its risk."""
    settings.MODEL_PATH = tmp_path / "artifacts" / "brainscan.keras"
    settings.MODEL_PATH.parent.mkdir()
    card = {
        "version": FakeColourAwareEngine.version,
        "architecture": "fake (browser test)",
        "risk_thresholds": {"medium": 0.08, "high": 0.55},
        "operating_point": {
            "at_medium": {"threshold": 0.08, "sensitivity": 0.99, "specificity": 0.8}
        },
    }
    (settings.MODEL_PATH.parent / "model_card.json").write_text(json.dumps(card))


@pytest.fixture(autouse=True)
def _static_files_by_name(settings) -> None:
    """The live server serves static files from the finders by their plain names; under the
    production profile (CI's second run) templates would otherwise link the hashed names of
    the manifest storage, which only `collectstatic` output and whitenoise know."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # here between browser steps are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def shoot(page: Page, name: str) -> None:
    """Full-page screenshots at desktop and phone width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("document.activeElement && document.activeElement.blur()")  # no focus ring
    for label, size in (("1440", DESKTOP), ("375", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)  # let the layout settle after the resize
        page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
    page.set_viewport_size(DESKTOP)


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.1)


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_login", email)
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")


def test_clinician_workspace_end_to_end(
    live_server, browser, queue, images, model_card, mailoutbox
):
    url = live_server.url
    User.objects.create_superuser(ADMIN, PASSWORD)
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    # The Content-Security-Policy (brainscan/headers.py) must not block anything the pages use.
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    # Sign up: the account exists but may not upload until an administrator approves it.
    page.goto(f"{url}/accounts/signup/")
    page.fill("#id_email", CLINICIAN)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("main form button[type=submit]")
    # Verification is mandatory (the same answer whether or not the address has an account).
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()
    confirm = re.search(r"/accounts/confirm-email/\S+/", mailoutbox[-1].body).group(0)
    page.goto(f"{url}{confirm}")
    page.click("main form button[type=submit]")  # "Confirm"
    expect(page.get_by_role("heading", name="Your account is waiting for approval")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{url}/accounts/login/")

    # An administrator approves the account with the admin action.
    admin = browser.new_context(viewport=DESKTOP).new_page()
    sign_in(admin, url, ADMIN)  # the site's sign-in page also opens the admin to staff
    admin.goto(f"{url}/admin/accounts/user/?q=dr.jones")
    clinician = User.objects.get(email=CLINICIAN)
    admin.check(f"input[name=_selected_action][value='{clinician.pk}']")
    admin.select_option("select[name=action]", "approve_as_clinicians")
    admin.click("button[name=index]")
    expect(admin.locator(".messagelist")).to_contain_text("1 account(s) approved as clinicians.")
    admin.context.close()

    # Sign in and upload three images at once: two slices and a photo.
    sign_in(page, url, CLINICIAN)
    expect(page.get_by_role("heading", name="Your scans")).to_be_visible()
    page.get_by_role("link", name="Upload", exact=True).click()
    # Files set before the deferred upload.js has run would fire "change" with no listener.
    expect(page.get_by_role("heading", name="Upload MRI slices")).to_be_visible()
    page.wait_for_load_state()
    page.set_input_files("#id_images", [str(p) for p in images])
    expect(page.locator(".file-item")).to_have_count(3)
    expect(page.locator(".file-item .thumb img")).to_have_count(3)
    expect(page.locator("#file-summary")).to_have_text("3 files selected.")
    page.fill("#id_case_reference", "case-e2e")
    shoot(page, "upload")
    page.get_by_role("button", name="Upload and analyse 3 slices").click()

    # The batch page lists the three as queued, then updates by itself as the worker runs.
    expect(page.get_by_role("heading", name="Analysis of 3 slices")).to_be_visible()
    expect(page.locator("#batch-table .status-pending")).to_have_count(3)
    page.evaluate("window.__sameDocument = true")
    wait_for(lambda: len(queue) == 3)
    for prediction_id in queue:
        run_prediction(prediction_id)
    expect(page.locator("#batch-summary")).to_have_text(
        "3 of 3 analysed · 1 not accepted as brain MRI. All done."
    )
    expect(page.locator("#batch-table .status-done")).to_have_count(2)
    expect(page.locator("#batch-table .status-rejected")).to_have_text("Rejected")
    assert page.evaluate("window.__sameDocument") is True  # updated without a reload
    shoot(page, "batch")

    # A result: the slice and its heatmap side by side, probabilities, risk, disclaimer.
    glioma = Scan.objects.get(prediction__label="glioma")
    photo = Scan.objects.get(prediction__status=Prediction.Status.REJECTED)
    page.get_by_role("link", name=f"Scan {glioma.pk}", exact=True).click()
    expect(page.get_by_text("Most likely class: Glioma")).to_be_visible()
    page.wait_for_load_state()  # the deferred dom.js, viewer.js and result.js have run
    # The viewer draws the slice with its heatmap (tests/browser/test_viewer.py drives it).
    page.wait_for_function(
        "() => { const v = document.getElementById('result-viewer').brainscanViewer;"
        " return v && v.width === 320 && v.heat !== null; }"
    )
    page.locator("#result-viewer .bsv-opacity").fill("40")
    expect(page.locator("#result-viewer .bsv-opacity-value")).to_have_text("40\u00a0%")
    expect(page.locator(".risk-badge")).to_have_text("High risk")
    expect(page.locator(".bar")).to_have_count(4)
    expect(page.get_by_text("Decision support, not a diagnosis.").first).to_be_visible()
    expect(page.locator(".operating-point")).to_contain_text(re.compile(r"high from 55\s%"))
    page.locator("#result-viewer .bsv-opacity").fill("100")
    shoot(page, "result")
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 718, "height": 1032})  # A4 less 12 mm margins, 96 dpi
    page.screenshot(path=SCREENSHOTS / "report-print.png", full_page=True)
    page.emulate_media(media="null")  # stop emulating, so the PDF below uses print CSS
    page.set_viewport_size(DESKTOP)
    report = page.pdf(prefer_css_page_size=True, print_background=True)  # as "Print report"
    assert len(re.findall(rb"/Type\s*/Page[^s]", report)) == 1  # one page
    page.get_by_role("link", name="fake-browser-1").click()
    expect(page.get_by_role("heading", name="Model card · fake-browser-1")).to_be_visible()

    # The photo was refused by the input check, with the reason.
    page.goto(f"{url}/scans/{photo.pk}/")
    expect(
        page.get_by_role("heading", name="Not analysed: not recognised as a brain MRI slice")
    ).to_be_visible()

    # The history: counts on top, then filter by predicted class.
    page.get_by_role("link", name="History").click()
    expect(page.locator("#count-total")).to_have_text("3")
    expect(page.locator("[data-count=label-glioma]")).to_have_text("1")
    expect(page.locator("[data-count=risk-low]")).to_have_text("1")
    shoot(page, "dashboard")
    page.locator(".filters summary").click()
    page.select_option("#id_label", "glioma")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator(".history-table tbody tr")).to_have_count(1)
    expect(page.locator("#count-total")).to_have_text("1")

    # The export holds exactly the filtered rows.
    with page.expect_download() as download:
        page.locator("#export-link").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    assert [(r["id"], r["case_reference"], r["status"], r["label"], r["risk"]) for r in rows] == [
        (str(glioma.pk), "case-e2e", "done", "glioma", "high")
    ]
    assert rows[0]["p_glioma"] == "0.860000"
    assert rows[0]["model_version"] == "fake-browser-1"

    # Sign out: the history is closed again.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{url}/accounts/login/")
    page.goto(f"{url}/scans/")
    expect(page).to_have_url(f"{url}/accounts/login/?next=/scans/")
    context.close()
    assert blocked == []


def signed_in_context(browser: Browser, url: str, user: User):
    """A new browser session of `user`, signed in through a session cookie."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": url}])
    return context


def csp_watch(page: Page) -> list[str]:
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return blocked


def test_file_names_stay_in_the_uploading_tab_and_a_repeated_file_is_flagged(
    live_server, browser, queue, images, model_card
):
    """Issue 14, "results a clinician can trust and trace": names only in the browser tab that
    uploaded them, slices numbered by selection order, a file uploaded before is flagged with
    a link to the earlier result and may still be uploaded again."""
    from accounts.tests.factories import make_clinician

    url = live_server.url
    user = make_clinician(email="dr.trace@example.org")
    context = signed_in_context(browser, url, user)
    page = context.new_page()
    blocked = csp_watch(page)

    page.goto(f"{url}/scans/upload/")
    page.wait_for_load_state()
    page.set_input_files("#id_images", [str(images[0]), str(images[1])])
    expect(page.locator(".file-item")).to_have_count(2)
    page.get_by_role("button", name="Upload and analyse 2 slices").click()
    expect(page.get_by_role("heading", name="Analysis of 2 slices")).to_be_visible()

    # The batch page, in the uploading tab: each row's place in the selection and its name.
    first, second = (Scan.objects.get(upload_position=n) for n in (1, 2))
    rows = page.locator("#batch-table tbody tr")
    expect(rows.nth(0).locator(".upload-order")).to_have_text("1")
    expect(rows.nth(0).locator(".js-file-name")).to_have_text("File: slice-a.png")
    expect(rows.nth(1).locator(".js-file-name")).to_have_text("File: slice-b.jpg")
    assert rows.nth(0).get_attribute("data-scan") == str(first.pk)
    wait_for(lambda: len(queue) == 2)
    for prediction_id in queue:
        run_prediction(prediction_id)

    # The result page shows the name too; no name reached the server.
    page.goto(f"{url}/scans/{first.pk}/")
    expect(page.locator(".file-name-line")).to_be_visible()
    expect(page.locator(".file-name-line .js-name")).to_have_text("slice-a.png")
    expect(page.locator("#upload-order")).to_have_text("slice 1 of its upload")
    for scan in Scan.objects.all():
        stored = " ".join(str(getattr(scan, f.attname)) for f in Scan._meta.concrete_fields)
        assert "slice-a" not in stored
        assert "slice-b" not in stored

    # Another session of the same clinician sees the result, but no file name.
    other = signed_in_context(browser, url, user).new_page()
    other.goto(f"{url}/scans/{first.pk}/")
    expect(other.get_by_text("Most likely class: Glioma")).to_be_visible()
    other.wait_for_load_state()
    expect(other.locator(".file-name-line")).to_be_hidden()
    other.context.close()

    # The same file again: flagged with a link to the earlier result, nothing stored ...
    page.goto(f"{url}/scans/upload/")
    page.wait_for_load_state()
    page.set_input_files("#id_images", [str(images[0])])
    page.get_by_role("button", name="Upload and analyse").click()
    item = page.locator(".file-item")
    expect(item.locator(".file-state")).to_contain_text("You uploaded this file before: ")
    link = item.locator("a.js-earlier")
    expect(link).to_have_text(f"scan {first.pk}")
    assert link.get_attribute("href") == f"/scans/{first.pk}/"
    expect(page.locator("#upload-status")).to_contain_text("1 uploaded before")
    assert Scan.objects.count() == 2
    shoot(page, "upload-duplicate")

    # ... unless the clinician goes on.
    page.get_by_role("button", name="Upload slice-a.png again").click()
    expect(page.get_by_role("heading", name="Analysis of 1 slice")).to_be_visible()
    assert Scan.objects.count() == 3
    third = Scan.objects.order_by("pk").last()
    assert third.sha256 == first.sha256
    page.goto(f"{url}/scans/{third.pk}/")
    expect(page.locator("#earlier-upload")).to_contain_text(f"scan {first.pk}")

    # Signing out forgets the names kept in the tab.
    page.get_by_role("button", name="Sign out").click()
    assert (
        page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('brainscan.'))") == []
    )
    context.close()
    assert blocked == []


def test_error_pages_are_styled_and_lead_back_into_the_site(live_server, browser):
    """Issue 14, "Pages": a wrong address gets the site's own 404 page, under the CSP."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    blocked = csp_watch(page)

    response = page.goto(f"{live_server.url}/scans/no-such-page/")

    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.site-header')).display") == "flex"
    )
    page.get_by_role("link", name="Go to the start page").click()
    expect(page).not_to_have_url(re.compile(r"no-such-page"))
    context.close()
    assert blocked == []


def test_the_printed_report_leads_with_the_reviewers_correction(live_server, browser, model_card):
    """Issue 14: the correction heads the print report too; technical details are not printed."""
    from accounts.tests.factories import make_clinician, make_reviewer_user
    from predictions.tests.history import make_scan

    owner = make_clinician(email="dr.print@example.org")
    radiologist = make_reviewer_user(email="rad.print@example.org", full_name="Dr R. Print")
    scan = make_scan(
        owner,
        label="meningioma",
        review_verdict="corrected",
        review_label="glioma",
        reviewed_by=radiologist,
        reviewed_at=dt.datetime(2025, 4, 2, 9, 0, tzinfo=dt.UTC),
    )
    context = signed_in_context(browser, live_server.url, owner)
    page = context.new_page()
    blocked = csp_watch(page)
    page.goto(f"{live_server.url}/scans/{scan.pk}/")
    headline = page.locator("#review-headline h2")
    expect(headline).to_have_text("Reviewer: Glioma (AI said: Meningioma)")
    expect(page.locator("#review-headline")).to_contain_text(
        "Corrected by Dr R. Print on 2025-04-02"
    )
    expect(page.locator("#technical-details")).to_be_visible()
    expect(page.locator("#technical-details .timings")).to_be_hidden()  # folded

    page.emulate_media(media="print")
    expect(headline).to_be_visible()
    expect(page.locator("#technical-details")).to_be_hidden()
    report = page.pdf(prefer_css_page_size=True, print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", report)) == 1  # still one page
    context.close()
    assert blocked == []
