"""Template filters for the clinician workspace."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def percent(value: object, digits: int = 1) -> str:
    """0.9134 -> "91.3 %"; empty for a missing value, so templates need no guard."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    return f"{value * 100:.{int(digits)}f} %"
