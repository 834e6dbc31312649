"""The history's filters (predictions.history.HistoryFilterForm) applied to studies, so the
study list and its CSV hold the studies the same filters would pick among single slices."""

from __future__ import annotations

from django.db.models import QuerySet

from predictions.history import HistoryFilterForm, ReviewStatus
from studies.models import Study


def filter_studies(form: HistoryFilterForm, studies: QuerySet[Study]) -> QuerySet[Study]:
    """Date range, class, risk, status and case reference as for scans. Studies are not
    reviewed yet: "not reviewed" keeps them all, any other review filter keeps none."""
    if not form.is_bound:
        return studies
    q = form.conditions(prediction="", scan="", reviews=False)  # validates the form
    data = getattr(form, "cleaned_data", {})
    if data.get("review") and data["review"] != ReviewStatus.UNREVIEWED:
        return studies.none()
    return studies.filter(q)
