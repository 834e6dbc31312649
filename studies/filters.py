"""The history's filters (predictions.history.HistoryFilterForm) applied to studies, so the
study list and its CSV hold the studies the same filters would pick among single slices."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from predictions.history import HistoryFilterForm, ReviewStatus, _start_of
from studies.models import Study


def filter_studies(form: HistoryFilterForm, studies: QuerySet[Study]) -> QuerySet[Study]:
    """Date range, class, risk, status and case reference as for scans. Studies are not
    reviewed yet: "not reviewed" keeps them all, any other review filter keeps none."""
    if not form.is_bound:
        return studies
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    q = Q()
    if data.get("date_from"):
        q &= Q(uploaded_at__gte=_start_of(data["date_from"]))
    if data.get("date_to"):
        q &= Q(uploaded_at__lt=_start_of(data["date_to"] + dt.timedelta(days=1)))
    for field in ("label", "risk", "status"):
        if data.get(field):
            q &= Q(**{field: data[field]})
    if data.get("case", "").strip():
        q &= Q(case_reference__icontains=data["case"].strip())
    if data.get("review") and data["review"] != ReviewStatus.UNREVIEWED:
        return studies.none()
    return studies.filter(q)
