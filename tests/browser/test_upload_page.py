"""Issue 14, "Upload page", in headless Chromium: the summary counts every file chosen (also
those over the limit and those refused before sending), a refusal is readable in full (no
inner scroll box), a file whose bytes are all sent shows that the server is checking it, and
leaving the page mid-upload asks first."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import make_clinician
from predictions import forms as upload_forms
from tests.browser.axe import csp_watch, violations
from tests.browser.scans import png, slice_array
from tests.browser.test_workspace import signed_in_context

pytestmark = pytest.mark.browser


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    paths = []
    for n in range(3):
        path = tmp_path / f"slice-{n}.png"
        path.write_bytes(png(slice_array(128, seed=n)))
        paths.append(path)
    fake = tmp_path / "not-an-image-but-a-very-long-file-name-that-must-still-wrap-nicely.png"
    fake.write_bytes(b"this is text, not a PNG " * 20)
    paths.append(fake)
    return paths


def test_the_upload_page_counts_explains_and_guards(
    live_server, browser, settings, files, monkeypatch, queue
):
    settings.MAX_FILES_PER_UPLOAD = 3
    user = make_clinician(email="dr.upload@example.org")
    context = signed_in_context(browser, live_server.url, user)
    page = context.new_page()
    blocked = csp_watch(page)
    page.goto(f"{live_server.url}/scans/upload/")
    page.wait_for_load_state()
    assert violations(page) == []

    # Four chosen, three allowed: the summary counts all four.
    page.set_input_files("#id_images", [str(p) for p in [files[3], files[0], files[1], files[2]]])
    expect(page.locator(".file-item")).to_have_count(3)
    expect(page.locator("#file-summary")).to_have_text(
        "4 files selected, 1 not added (over the limit of 3)."
    )

    # The server holds each file until the test lets it go: between "sent" and "answered".
    go_on = threading.Event()
    check = upload_forms.read_and_validate_slices

    def slow_check(upload):
        go_on.wait(timeout=30)
        return check(upload)

    monkeypatch.setattr(upload_forms, "read_and_validate_slices", slow_check)
    page.get_by_role("button", name="Upload and analyse 3 slices").click()
    checking = page.locator(".file-item[data-state=checking] .file-state")
    expect(checking.first).to_have_text("Sent; the server is checking the file…")

    # Mid-upload, leaving the page asks first.
    dialogs: list[str] = []

    def answer(dialog) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", answer)
    page.evaluate("window.location.href = '/scans/'")
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    assert page.url.endswith("/scans/upload/")

    go_on.set()
    page.wait_for_function("() => !document.querySelector('.file-item[data-state=checking]')")

    # The refusal reads in full: the list is not a scroll box and nothing is cut off.
    refused = page.locator(".file-item[data-state=refused]")
    expect(refused).to_have_count(1)
    expect(refused.locator(".file-state")).to_contain_text("Not accepted: ")
    assert page.evaluate(
        "() => { const l = document.getElementById('file-list'); const s = getComputedStyle(l);"
        " return s.overflowY === 'visible' && l.scrollHeight <= l.clientHeight + 1; }"
    )
    state = refused.locator(".file-state")
    assert state.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    expect(page.locator("#upload-status")).to_contain_text("2 uploaded, 1 not accepted")
    expect(page.locator("#upload-status")).to_contain_text(
        "1 not added (over the limit of 3 files)"
    )
    assert violations(page) == []
    context.close()
    assert blocked == []
