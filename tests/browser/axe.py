"""Accessibility checks with axe-core (vendored, test-only: tests/browser/vendor/axe-core/).

The script goes in through Playwright's evaluate, which the page's Content-Security-Policy
does not govern, so nothing about the CSP is loosened for the test.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from playwright.sync_api import Page

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"  # 4.14.1
# WCAG 2.1 A and AA, and axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@cache
def _source() -> str:
    data = AXE.read_bytes()
    if hashlib.sha256(data).hexdigest() != AXE_SHA256:
        raise RuntimeError(f"{AXE} is not the vendored axe-core 4.14.1")
    return data.decode("utf-8")


def csp_watch(page: Page) -> list[str]:
    """Content-Security-Policy refusals of the page's own code. axe, run by the test through
    evaluate (a script without a URL), adds styles the policy refuses: those are not counted."""
    blocked: list[str] = []

    def seen(message) -> None:
        if "Content Security Policy" in message.text and message.location.get("url"):
            blocked.append(f"{message.location['url']}: {message.text}")

    page.on("console", seen)
    return blocked


def violations(page: Page, exclude: list[str] | None = None) -> list[str]:
    """axe's violations on the page as "rule-id (impact): selector, ..." lines; [] when none.

    Waits for the page's load event first: a page reached by a click may still be fetching
    a stylesheet, and axe would judge colours and underlines the page never shows (seen on
    a loaded machine: the admin breadcrumbs before the review desk's stylesheet)."""
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(_source())
    found = page.evaluate(
        """async ([tags, exclude]) => {
            const context = exclude.length ? { exclude: exclude.map(s => [s]) } : document;
            const result = await axe.run(context, { runOnly: { type: 'tag', values: tags } });
            return result.violations.map(v =>
                v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '));
        }""",
        [TAGS, exclude or []],
    )
    return list(found)
