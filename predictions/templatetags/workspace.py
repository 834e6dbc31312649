"""Template filters for the clinician workspace."""

from __future__ import annotations

from django import template
from django.urls import reverse

from predictions.models import Scan
from predictions.presentation import BROWSER_IMAGE_TYPES, probability_text

register = template.Library()


@register.filter
def percent(value: object, digits: int = 1) -> str:
    """0.9134 -> "91.3 %" (no line break before the sign); empty for a missing value."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    return f"{value * 100:.{int(digits)}f}\N{NO-BREAK SPACE}%"


@register.filter
def probability(value: object, digits: int = 1) -> str:
    """A model's probability: like `percent`, but never "100.0 %" or "0.0 %" (see
    results.probability_text); rates and counts that can be exactly 100 % use `percent`."""
    return probability_text(value, digits)


@register.simple_tag
def slice_url(scan: Scan) -> str:
    """Where the browser can show the slice: the stored file, or a PNG preview of a TIFF."""
    name = "scan-image" if scan.content_type in BROWSER_IMAGE_TYPES else "scan-preview"
    return reverse(f"predictions:{name}", args=[scan.pk])
