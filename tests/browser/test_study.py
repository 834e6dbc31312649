"""A whole study in a real browser: choose a DICOM folder on the study upload page, follow the
study page to its summary, and drive the slice browser (wheel, arrow keys, jump to flagged,
heatmap opacity, zoom, window/level, a click on the plot). Screenshots of the upload and
study pages go to test-artifacts/screenshots/ (copies in docs/screenshots/).

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
from tests.browser.test_workspace import (  # noqa: F401 - fixtures
    _static_files_by_name,
    browser,
    csp_watch,
    shoot,
    signed_in_context,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def study_folder(tmp_path: Path) -> Path:
    """A sagittal 3-D T1 series as a PACS export: one file per slice, no extension."""
    folder = tmp_path / "export" / "DICOM"
    folder.mkdir(parents=True)
    for number, data in enumerate(series_files("sagittal", slices=70, spacing=1.5)):
        (folder / f"IM{number:05d}").write_bytes(data)
    (folder / "README.TXT").write_text("exported by a PACS\n")
    return folder


def canvas_colour_share(page) -> float:
    """Share of the slice canvas's pixels that are coloured (the heatmap), not gray."""
    return page.evaluate(
        """() => {
          const c = document.querySelector('#slice-browser canvas');
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let coloured = 0;
          for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - d[i + 2]) > 30) coloured++;
          return coloured / (d.length / 4);
        }"""
    )


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
    page.wait_for_function("() => document.querySelector('#slice-browser canvas').width !== 384")
    page.wait_for_timeout(300)
    assert canvas_colour_share(page) > 0.001

    viewport = page.locator('[data-role="viewport"]')
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
    page.wait_for_timeout(300)
    with_heatmap = canvas_colour_share(page)
    page.locator('[data-role="opacity"]').fill("0")
    page.wait_for_timeout(300)
    assert canvas_colour_share(page) < with_heatmap / 4

    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    expect(page.locator("#sb-caption")).to_contain_text("zoom 1.6×")
    page.locator('[data-role="width"]').fill("80")
    state = page.evaluate("() => document.getElementById('slice-browser').sliceBrowser.state()")
    assert state["width"] == 80
    assert state["zoom"] == pytest.approx(1.5625)
    page.get_by_role("button", name="Reset view").click()
    page.locator('[data-role="opacity"]').fill("60")

    # A click on the plot shows that slice.
    last = study.flagged_slices[-1]
    page.locator(f'#study-plot circle[data-go="{last}"]').dispatch_event("click")
    expect(page.locator("#sb-caption")).to_contain_text(f"Slice {last + 1} of")
    page.wait_for_timeout(300)
    shoot(page, "study")
    assert blocked == []
    context.close()
