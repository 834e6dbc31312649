"""The newest studies beside the scans on the history page (predictions' dashboard), picked
by the same filters. A template tag, so predictions (below studies) never imports studies."""

from __future__ import annotations

from typing import Any

from django import template

from predictions.history import HistoryFilterForm
from studies.filters import filter_studies
from studies.models import Study

register = template.Library()
STUDIES_ON_DASHBOARD = 5


@register.simple_tag(takes_context=True)
def studies_beside(context: template.Context, form: HistoryFilterForm) -> dict[str, Any]:
    """`studies`: the clinician's newest few the filters pick; `total`: how many they pick."""
    studies = filter_studies(form, Study.objects.filter(owner=context["request"].user))
    return {
        "studies": list(studies.order_by("-uploaded_at", "-pk")[:STUDIES_ON_DASHBOARD]),
        "total": studies.count(),
    }
