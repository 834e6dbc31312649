"""Fixtures of the workspace browser test shared by the other browser tests: headless
Chromium, the fake engine and its model card, the broker stand-in (`queue`), static files by
their plain names."""

from tests.browser.test_workspace import (  # noqa: F401  (fixtures, found here by pytest)
    _static_files_by_name,
    browser,
    model_card,
    queue,
)
