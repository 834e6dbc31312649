"""The reviewers' desk in the admin: every prediction, filters, the images, and a verdict form.

AI outputs are read-only here for everyone; the only fields anyone can write are the verdict,
the corrected class and the note, and `predictions.reviews.record_review` stamps who and when.
Nobody adds or deletes predictions here (a scan is deleted with its files by services).
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from predictions.models import Prediction
from predictions.reviews import (
    CLASSES,
    ReviewError,
    check_reviewer,
    check_verdict,
    record_review,
)

AI_FIELDS = (
    "scan_link",
    "owner",
    "status",
    "error",
    "label",
    "confidence",
    "probability_table",
    "tumour_probability",
    "risk",
    "gate_accepted",
    "gate_score",
)
RUN_FIELDS = (
    "heatmap_inside_brain",
    "model_version",
    "model_sha256",
    "created_at",
    "finished_at",
)
REVIEW_FIELDS = ("review_verdict", "review_label", "review_note")


class ReviewedFilter(admin.SimpleListFilter):
    title = "review"
    parameter_name = "reviewed"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("no", "Not reviewed"), ("yes", "Reviewed"), ("corrected", "Corrected")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Prediction]
    ) -> QuerySet[Prediction]:
        if self.value() == "no":
            return queryset.filter(review_verdict="")
        if self.value() == "yes":
            return queryset.exclude(review_verdict="")
        if self.value() == "corrected":
            return queryset.filter(review_verdict=Prediction.Verdict.CORRECTED)
        return queryset


class ReviewForm(forms.ModelForm):
    class Meta:
        model = Prediction
        fields = REVIEW_FIELDS
        help_texts = {
            "review_label": "Only for a correction: the class you found.",
            "review_note": "Why, in a sentence. No patient names.",
        }

    reviewer: Any = None  # set by ReviewAdmin.get_form: the person recording the verdict

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        verdict, label = data.get("review_verdict", ""), data.get("review_label", "")
        if verdict and self.reviewer is not None:
            try:
                check_reviewer(self.instance, self.reviewer)
            except ReviewError as exc:
                raise forms.ValidationError(str(exc)) from None
        if not verdict:
            if self.instance.review_verdict:
                raise forms.ValidationError(
                    "A recorded review cannot be blanked: record the verdict that is right now."
                )
            if label or data.get("review_note"):
                raise forms.ValidationError("Choose a verdict to record the class or note.")
            return data
        try:
            data["review_label"] = check_verdict(self.instance, verdict, label)
        except ReviewError as exc:
            field = "review_label" if label or verdict == Prediction.Verdict.CORRECTED else None
            self.add_error(field, str(exc))
        return data


class ReviewAdmin(admin.ModelAdmin):
    form = ReviewForm

    class Media:
        css = {"all": ("css/admin-review.css",)}  # no inline styles under the CSP

    list_display = (
        "case",
        "created_at",
        "status",
        "label",
        "confidence",
        "risk",
        "model_version",
        "review_state",
        "reviewed_by",
    )
    list_filter = (
        "status",
        "label",
        "risk",
        "model_version",
        ReviewedFilter,
        ("review_label", admin.ChoicesFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("scan", "reviewed_by")
    search_fields = ("=scan__id", "scan__case_reference", "scan__owner__email")
    date_hierarchy = "created_at"
    readonly_fields = (*AI_FIELDS, *RUN_FIELDS, "images", "reviewed_by", "reviewed_at")
    fieldsets = (
        ("Slice and Grad-CAM overlay", {"fields": ("images",)}),
        ("What the AI said", {"fields": AI_FIELDS}),
        ("Your review", {"fields": (*REVIEW_FIELDS, "reviewed_by", "reviewed_at")}),
        ("Model and run", {"fields": RUN_FIELDS, "classes": ("collapse",)}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Prediction | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Prediction]:
        return super().get_queryset(request).select_related("scan__owner", "reviewed_by")

    def get_form(
        self,
        request: HttpRequest,
        obj: Prediction | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[ReviewForm]:
        # A subclass of self.form, ReviewForm, which django-stubs cannot know.
        form = cast(type[ReviewForm], super().get_form(request, obj, change, **kwargs))
        form.reviewer = request.user  # a form error, not a server error, for one's own scan
        return form

    def save_model(
        self, request: HttpRequest, obj: Prediction, form: forms.ModelForm, change: bool
    ) -> None:
        data = form.cleaned_data
        if data["review_verdict"]:
            record_review(
                obj,
                request.user,  # type: ignore[arg-type]
                verdict=data["review_verdict"],
                label=data["review_label"],
                note=data["review_note"],
            )

    def save_related(
        self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool
    ) -> None:
        """Nothing related is edited here; skip the default so nothing else is written."""

    @admin.display(description="Scan", ordering="scan_id")
    def case(self, prediction: Prediction) -> str:
        """Plain text: the admin links this first column to the review page."""
        return f"Scan {prediction.scan_id}"

    @admin.display(description="Result page")
    def scan_link(self, prediction: Prediction) -> str:
        url = reverse("predictions:detail", args=[prediction.scan_id])
        return format_html('<a href="{}">Scan {}</a>', url, prediction.scan_id)

    @admin.display(description="Clinician")
    def owner(self, prediction: Prediction) -> str:
        return prediction.scan.owner.email

    @admin.display(description="Review", ordering="review_verdict")
    def review_state(self, prediction: Prediction) -> str:
        if not prediction.review_verdict:
            return "—"
        if prediction.review_verdict == Prediction.Verdict.AGREE:
            return "Agrees"
        return f"Corrected to {prediction.get_review_label_display()}"

    @admin.display(description="Probabilities")
    def probability_table(self, prediction: Prediction) -> str:
        probabilities = prediction.probabilities or {}
        rows = [(name, f"{probabilities[name]:.3f}") for name in CLASSES if name in probabilities]
        if not rows:
            return "—"
        return format_html(
            "<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        )

    @admin.display(description="Images")
    def images(self, prediction: Prediction) -> str:
        """Through the access-checked views: the stock file widget would call .url and fail."""
        scan = prediction.scan
        if not scan.image:
            return "The image was purged under the retention policy."
        figures = [(reverse("predictions:scan-image", args=[scan.pk]), "Uploaded slice")]
        if prediction.overlay:
            overlay = reverse("predictions:overlay-image", args=[scan.pk])
            figures.append((overlay, "Grad-CAM overlay (warmer = drove the prediction)"))
        return format_html(
            '<div class="review-figures">{}</div>',  # styled in css/admin-review.css (CSP)
            format_html_join(
                "",
                '<figure><img src="{0}" alt="{1}" width="320"><figcaption>{1}</figcaption></figure>',
                figures,
            ),
        )
