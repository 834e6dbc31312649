"""The history filters: one GET form shared by the dashboard and the CSV export.

Both call `HistoryFilterForm.apply`, so the export holds exactly the rows the page lists.
Dates are whole days in the site's time zone, turned into a half-open range on
`uploaded_at` so the (owner, -uploaded_at) index serves the query.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from predictions.models import Label, Prediction, Risk, Scan

ANY = [("", "Any")]


class ReviewStatus:
    UNREVIEWED = "unreviewed"
    AGREE = Prediction.Verdict.AGREE
    CORRECTED = Prediction.Verdict.CORRECTED
    CHOICES = [
        (UNREVIEWED, "Not reviewed"),
        (AGREE, "Reviewer agreed"),
        (CORRECTED, "Reviewer corrected"),
    ]


class HistoryFilterForm(forms.Form):
    date_from = forms.DateField(
        label="Uploaded from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="Uploaded until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    label = forms.ChoiceField(label="Predicted class", required=False, choices=ANY + Label.choices)
    risk = forms.ChoiceField(label="Risk level", required=False, choices=ANY + Risk.choices)
    status = forms.ChoiceField(
        label="Status", required=False, choices=ANY + Prediction.Status.choices
    )
    review = forms.ChoiceField(label="Review", required=False, choices=ANY + ReviewStatus.CHOICES)
    case = forms.CharField(label="Case reference contains", required=False, max_length=100)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def apply(self, scans: QuerySet[Scan]) -> QuerySet[Scan]:
        """Narrow `scans` by every valid filter; an invalid field filters nothing."""
        if not self.is_bound:
            return scans
        self.is_valid()  # fills cleaned_data with the fields that are valid
        return scans.filter(self._conditions(getattr(self, "cleaned_data", {})))

    def _conditions(self, data: dict[str, Any]) -> Q:
        q = Q()
        if data.get("date_from"):
            q &= Q(uploaded_at__gte=_start_of(data["date_from"]))
        if data.get("date_to"):
            q &= Q(uploaded_at__lt=_start_of(data["date_to"] + dt.timedelta(days=1)))
        for field, lookup in (
            ("label", "prediction__label"),
            ("risk", "prediction__risk"),
            ("status", "prediction__status"),
        ):
            if data.get(field):
                q &= Q(**{lookup: data[field]})
        if data.get("review") == ReviewStatus.UNREVIEWED:
            q &= Q(prediction__review_verdict="")
        elif data.get("review"):
            q &= Q(prediction__review_verdict=data["review"])
        if data.get("case", "").strip():
            q &= Q(case_reference__icontains=data["case"].strip())
        return q

    @property
    def active(self) -> bool:
        """Whether any filter was filled in (shows the "clear filters" link)."""
        return any(self.data.get(name) for name in self.fields)


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def history_counts(scans: QuerySet[Scan]) -> dict[str, Any]:
    """Totals by predicted class and risk level in one aggregate query."""
    aggregates = {"total": Count("pk")}
    for value, _ in Label.choices:
        aggregates[f"label_{value}"] = Count("pk", filter=Q(prediction__label=value))
    for value, _ in Risk.choices:
        aggregates[f"risk_{value}"] = Count("pk", filter=Q(prediction__risk=value))
    counts = scans.order_by().aggregate(**aggregates)
    return {
        "total": counts["total"],
        "labels": [(value, name, counts[f"label_{value}"]) for value, name in Label.choices],
        "risks": [(value, name, counts[f"risk_{value}"]) for value, name in Risk.choices],
    }


def history_page(scans: QuerySet[Scan], number: object, total: int, per_page: int) -> Page:
    """One page of `scans`, knowing there are `total` of them (counted by history_counts).

    Pages through ids first and then loads only that page's rows ("deferred join"): a deep
    OFFSET over ids walks the (owner, -uploaded_at) index instead of reading every skipped
    scan and prediction, which made page 2000 of 90 000 scans six times slower.
    """
    paginator = Paginator(scans.values_list("pk", flat=True), per_page)
    paginator.count = total  # type: ignore[misc]  # already counted; saves a COUNT(*)
    page = paginator.get_page(number)
    page.object_list = list(scans.filter(pk__in=list(page.object_list)))
    return page
