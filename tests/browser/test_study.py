"""A whole study in a real browser: choose a DICOM folder on the study upload page, follow the
study page to its summary, and drive the slice browser (wheel, arrow keys, jump to flagged,
heatmap opacity, a click on the plot) and its image viewer (static/js/viewer.js): zoom and
window/level survive a change of slice, in the viewer's state and in the canvas's pixels.
axe finds no violations on the study page. Screenshots of the upload and study pages go to
test-artifacts/screenshots/ (copies in docs/screenshots/).

The engine is the study tests' FAKE (studies/tests/fakes.py), which flags the slices through
the phantom's bright lesion: this checks the pages, not the model.

Run: .venv/bin/pytest -m browser tests/browser/test_study.py   (needs /usr/bin/chromium)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from studies.models import Study
from studies.tests.series_files import series_files
from tests.browser.axe import violations
from tests.browser.test_workspace import (  # noqa: F401 - fixtures
    SCREENSHOTS,
    _static_files_by_name,
    browser,
    csp_watch,
    shoot,
    signed_in_context,
)

pytestmark = pytest.mark.browser
CANVAS = "#slice-browser canvas.bsv-canvas"


@pytest.fixture
def study_folder(tmp_path: Path) -> Path:
    """A sagittal 3-D T1 series as a PACS export: one file per slice, no extension."""
    folder = tmp_path / "export" / "DICOM"
    folder.mkdir(parents=True)
    for number, data in enumerate(series_files("sagittal", slices=70, spacing=1.5)):
        (folder / f"IM{number:05d}").write_bytes(data)
    (folder / "README.TXT").write_text("exported by a PACS\n")
    return folder


def drawn(page) -> None:
    """Wait until the viewer has drawn the slice asked for last (it draws on the next frame)."""
    page.evaluate(
        "() => document.getElementById('slice-browser').sliceBrowser.viewer.ready.then(() => 1)"
    )
    page.wait_for_timeout(80)


def canvas_colour_share(page) -> float:
    """Share of the slice canvas's pixels that are coloured (the heatmap), not gray."""
    drawn(page)
    return page.evaluate(
        """(selector) => {
          const c = document.querySelector(selector);
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let coloured = 0;
          for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[i + 2]) > 30) coloured++;
          return coloured / (d.length / 4);
        }""",
        CANVAS,
    )


def canvas_pixels(page) -> list[int]:
    """The canvas's gray values on a grid of every 4th row and column."""
    drawn(page)
    return page.evaluate(
        """(selector) => {
          const c = document.querySelector(selector);
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          const out = [];
          for (let y = 0; y < c.height; y += 4)
            for (let x = 0; x < c.width; x += 4) out.push(d[(y * c.width + x) * 4 + 1]);
          return out;
        }""",
        CANVAS,
    )


def difference(a: list[int], b: list[int]) -> float:
    assert len(a) == len(b)
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def browser_state(page) -> dict:
    return page.evaluate("() => document.getElementById('slice-browser').sliceBrowser.state()")


def caption(page) -> str:
    return page.locator("#sb-caption").inner_text()


def test_a_study_upload_and_the_slice_browser(live_server, browser, study_engine, study_folder):  # noqa: F811
    from accounts.tests.factories import make_clinician

    url = live_server.url
    user = make_clinician(email="dr.study@example.org")
    context = signed_in_context(browser, url, user)
    page = context.new_page()
    blocked = csp_watch(page)

    page.goto(f"{url}/studies/upload/")
    page.set_input_files("#study-folder", str(study_folder))
    expect(page.locator("#study-selection")).to_contain_text("71 files")
    page.fill("#id_case_reference", "board 7")
    shoot(page, "study-upload")
    page.get_by_role("button", name="Upload and analyse the study").click()

    expect(page.get_by_role("heading", name="Study result")).to_be_visible(timeout=30_000)
    study = Study.objects.get()
    assert study.status == Study.Status.DONE
    expect(page.locator("#study-label")).to_have_text("Glioma")
    expect(page.locator("#file-errors")).to_contain_text("This is a text file")  # README.TXT
    expect(page.locator("#series-table")).to_contain_text(
        "3-D sagittal volume, reformatted to axial"
    )

    # The browser opens on the first slice that drives the result, with its heatmap.
    first_driving = study.driving_slices[0]
    expect(page.locator("#sb-caption")).to_contain_text(
        f"Slice {first_driving + 1} of {study.slices_total}"
    )
    expect(page.locator("#sb-caption")).to_contain_text("flagged")
    page.wait_for_function(
        "() => { const b = document.getElementById('slice-browser').sliceBrowser;"
        " return b && b.viewer.buffer; }"
    )
    assert canvas_colour_share(page) > 0.001
    assert violations(page) == []

    viewport = page.locator(CANVAS)
    viewport.focus()
    page.keyboard.press("Home")
    expect(page.locator("#sb-caption")).to_contain_text(f"Slice 1 of {study.slices_total}")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#sb-caption")).to_contain_text("Slice 2 of")
    viewport.hover()
    page.mouse.wheel(0, 120)
    expect(page.locator("#sb-caption")).to_contain_text("Slice 3 of")
    page.mouse.wheel(0, -120)
    expect(page.locator("#sb-caption")).to_contain_text("Slice 2 of")

    page.keyboard.press("f")  # the next flagged slice
    expect(page.locator("#sb-caption")).to_contain_text(f"Slice {study.flagged_slices[0] + 1} of")
    expect(page.locator("#sb-caption")).to_contain_text("flagged")
    with_heatmap = canvas_colour_share(page)
    page.locator("#slice-browser .bsv-opacity").fill("0")
    assert canvas_colour_share(page) < with_heatmap / 4

    # Zoom and window/level are the viewer's, and stay as they are from slice to slice.
    flagged = browser_state(page)["index"]
    plain = canvas_pixels(page)
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    expect(page.locator("#slice-browser .bsv-zoom")).to_have_text("156\u00a0%")
    zoomed = canvas_pixels(page)
    assert difference(plain, zoomed) > 2
    viewport.focus()
    for _ in range(4):
        page.keyboard.press("Shift+ArrowLeft")  # a narrower window: more contrast
    state = browser_state(page)
    assert state["zoom"] == pytest.approx(1.5625)
    assert state["windowWidth"] == 224
    windowed = canvas_pixels(page)
    assert difference(zoomed, windowed) > 0.5
    page.keyboard.press("ArrowDown")  # the next slice ...
    expect(page.locator("#sb-caption")).to_contain_text(f"Slice {flagged + 2} of")
    state = browser_state(page)
    assert state["index"] == flagged + 1
    assert state["zoom"] == pytest.approx(1.5625)
    assert state["windowWidth"] == 224
    assert state["opacity"] == 0
    viewport.hover()
    page.mouse.wheel(0, -120)  # ... and back: drawn exactly as before the change of slice
    expect(page.locator("#sb-caption")).to_contain_text(f"Slice {flagged + 1} of")
    assert canvas_pixels(page) == windowed
    page.get_by_role("button", name="Reset").click()
    assert browser_state(page)["zoom"] == 1
    assert difference(canvas_pixels(page), plain) < 0.5
    page.locator("#slice-browser .bsv-opacity").fill("100")

    # A click on the plot shows that slice.
    last = study.flagged_slices[-1]
    page.locator(f'#study-plot circle[data-go="{last}"]').dispatch_event("click")
    expect(page.locator("#sb-caption")).to_contain_text(f"Slice {last + 1} of")
    drawn(page)
    assert violations(page) == []
    page.evaluate("document.activeElement && document.activeElement.blur()")  # no focus ring
    for width, height in ((1440, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        drawn(page)
        assert violations(page) == [], width
        page.screenshot(path=SCREENSHOTS / f"study-{width}.png", full_page=True)
    assert blocked == []
    context.close()
