"""The reviewers' desk in the admin: every prediction, filters, the viewer, and a verdict form.

AI outputs are read-only here for everyone; the only fields anyone can write are the verdict,
the corrected class and the note, and `predictions.reviews.record_review` stamps who and when.
Nobody adds or deletes predictions here (a scan is deleted with its files by services).

The queue: "Next unreviewed" (oldest first or highest risk first; never the reviewer's own
scans) from the list and every review page, "Save and go to the next" after a verdict, and
keyboard shortcuts (static/js/review-desk.js). A reviewer with the blind-read option sees a
scan's image alone until they record a first impression (reviews.record_first_impression).
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.models import User
from predictions.models import CLASSES, Label, Prediction
from predictions.presentation import BROWSER_IMAGE_TYPES, probability_text
from predictions.reviews import (
    QUEUE_ORDERS,
    ReviewError,
    blind_read_pending,
    check_reviewer,
    check_verdict,
    next_in_queue,
    record_first_impression,
    record_review,
    review_queue,
)

AI_FIELDS = (
    "scan_link",
    "owner",
    "status",
    "error",
    "label",
    "confidence_shown",
    "probability_table",
    "tumour_probability_shown",
    "risk",
    "gate_accepted",
    "gate_score_shown",
)
RUN_FIELDS = (
    "heatmap_inside_brain_shown",
    "model_version",
    "model_sha256",
    "created_at",
    "finished_at",
)
REVIEW_FIELDS = ("review_verdict", "review_label", "review_note")
ORDER_KEY = "review_queue_order"  # the reviewer's queue order, kept in their session


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
            if blind_read_pending(self.instance, self.reviewer):
                raise forms.ValidationError(
                    "Blind read: record your first impression before the verdict."
                )
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
        css = {"all": ("css/admin-review.css", "css/viewer.css")}  # no inline styles (CSP)
        js = ("js/viewer.js", "js/review-desk.js")

    list_display = (
        "case",
        "created_at",
        "status",
        "label",
        "confidence_shown",
        "risk",
        "model_version",
        "review_state",
        "reviewed_by",
    )
    # What a blind reader's list leaves out: the AI's answer before they have seen the image.
    AI_ANSWER_COLUMNS = ("label", "confidence_shown", "risk")
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
    readonly_fields = (
        *AI_FIELDS,
        *RUN_FIELDS,
        "images",
        "reviewed_by",
        "reviewed_at",
        "first_impression_shown",
    )
    fieldsets = (
        ("Slice and Grad-CAM overlay", {"fields": ("images",)}),
        ("What the AI said", {"fields": AI_FIELDS}),
        (
            "Your review",
            {"fields": (*REVIEW_FIELDS, "reviewed_by", "reviewed_at", "first_impression_shown")},
        ),
        ("Model and run", {"fields": RUN_FIELDS, "classes": ("collapse",)}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Prediction | None = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Prediction]:
        return super().get_queryset(request).select_related("scan__owner", "reviewed_by")

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = super().get_list_display(request)
        if getattr(request.user, "blind_read", False):
            return [c for c in columns if c not in self.AI_ANSWER_COLUMNS]
        return columns

    def get_readonly_fields(self, request: HttpRequest, obj: Prediction | None = None) -> Any:
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.scan.owner_id == request.user.pk:
            return (*fields, *REVIEW_FIELDS)  # one's own scan: another reviewer judges it
        return fields

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("next/", wrap(self.next_view), name="predictions_prediction_next"),
            path(
                "blind-read/",
                wrap(require_POST(self.blind_read_view)),
                name="predictions_prediction_blind_read",
            ),
            path(
                "<int:object_id>/first-impression/",
                wrap(require_POST(self.first_impression_view)),
                name="predictions_prediction_first_impression",
            ),
            *super().get_urls(),
        ]

    def _order(self, request: HttpRequest) -> str:
        order = request.GET.get("order") or request.session.get(ORDER_KEY, "oldest")
        return order if order in QUEUE_ORDERS else "oldest"

    def next_view(self, request: HttpRequest) -> HttpResponse:
        """The next unreviewed result of the reviewer's queue, or the list when none is left."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        order = self._order(request)
        request.session[ORDER_KEY] = order
        after = None
        if request.GET.get("after", "").isdigit():
            after = Prediction.objects.filter(pk=int(request.GET["after"])).first()
        following = next_in_queue(_reviewer(request), order, after)
        if following is None:
            self.message_user(request, "No unreviewed results are waiting for you.")
            return HttpResponseRedirect(reverse("admin:predictions_prediction_changelist"))
        return HttpResponseRedirect(
            reverse("admin:predictions_prediction_change", args=[following.pk])
        )

    def blind_read_view(self, request: HttpRequest) -> HttpResponse:
        """Turn the reviewer's own blind-read option on or off."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        user = _reviewer(request)
        user.blind_read = request.POST.get("blind_read") == "on"
        user.save(update_fields=["blind_read"])
        state = "on: you see each image before the AI's answer" if user.blind_read else "off"
        self.message_user(request, f"Blind read is {state}.")
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
            back = reverse("admin:predictions_prediction_changelist")
        return HttpResponseRedirect(back)

    def first_impression_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        prediction = get_object_or_404(Prediction.objects.select_related("scan"), pk=object_id)
        if not self.has_change_permission(request, prediction):
            raise PermissionDenied
        try:
            record_first_impression(
                prediction, _reviewer(request), request.POST.get("first_impression", "")
            )
        except ReviewError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
        return HttpResponseRedirect(
            reverse("admin:predictions_prediction_change", args=[prediction.pk])
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        extra = {**(extra_context or {}), **self._desk_context(request, None)}
        return super().changelist_view(request, extra)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> Any:
        prediction = self.get_object(request, object_id)
        if (
            prediction is not None
            and request.method == "GET"
            and blind_read_pending(prediction, _reviewer(request))
        ):
            return self._blind_read_page(request, prediction)
        extra = {**(extra_context or {}), **self._desk_context(request, prediction)}
        return super().change_view(request, object_id, form_url, extra)

    def response_change(self, request: HttpRequest, obj: Prediction) -> HttpResponse:
        if "_savenext" in request.POST:
            self.message_user(request, f"Verdict on scan {obj.scan_id} recorded.")
            return HttpResponseRedirect(
                reverse("admin:predictions_prediction_next") + f"?after={obj.pk}"
            )
        return super().response_change(request, obj)

    def _desk_context(self, request: HttpRequest, prediction: Prediction | None) -> dict:
        order = self._order(request)
        after = f"&after={prediction.pk}" if prediction is not None else ""
        next_url = reverse("admin:predictions_prediction_next")
        return {
            "queue_order": order,
            "queue_links": [
                (f"{next_url}?order={value}{after}", name, value == order)
                for value, name in QUEUE_ORDERS.items()
            ],
            "queue_next": f"{next_url}?order={order}{after}",
            "queue_waiting": review_queue(_reviewer(request)).count(),
            "own_scan": prediction is not None and prediction.scan.owner_id == request.user.pk,
            "blind_read": getattr(request.user, "blind_read", False),
            "desk_path": request.get_full_path(),
        }

    def _blind_read_page(self, request: HttpRequest, prediction: Prediction) -> HttpResponse:
        """The image alone, and the classes to choose from: nothing of the AI's answer."""
        context = {
            **self.admin_site.each_context(request),
            **self._desk_context(request, prediction),
            "opts": self.opts,
            "title": f"Blind read: scan {prediction.scan_id}",
            "prediction": prediction,
            "scan": prediction.scan,
            "classes": Label.choices,
            "viewer": _viewer(prediction, overlay=False),
            "media": self.media,
        }
        return render(request, "admin/predictions/prediction/blind_read.html", context)

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
        if data.get("review_verdict"):  # absent on one's own scan, where the fields are read-only
            record_review(
                obj,
                _reviewer(request),
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

    @admin.display(description="Confidence", ordering="confidence")
    def confidence_shown(self, prediction: Prediction) -> str:
        return probability_text(prediction.confidence) or "—"

    @admin.display(description="Tumour probability", ordering="tumour_probability")
    def tumour_probability_shown(self, prediction: Prediction) -> str:
        return probability_text(prediction.tumour_probability) or "—"

    @admin.display(description="Input check score")
    def gate_score_shown(self, prediction: Prediction) -> str:
        if prediction.gate_score is None:
            return "—"
        return f"{prediction.gate_score:.2f} (accepted up to 1.00)"

    @admin.display(description="Heatmap weight inside the head")
    def heatmap_inside_brain_shown(self, prediction: Prediction) -> str:
        if prediction.heatmap_inside_brain is None:
            return "—"
        return f"{prediction.heatmap_inside_brain * 100:.0f} %"

    @admin.display(description="First impression (blind read)")
    def first_impression_shown(self, prediction: Prediction) -> str:
        if not prediction.first_impression:
            return "—"
        who = (
            prediction.first_impression_by.get_full_name()
            if prediction.first_impression_by
            else "a removed account"
        )
        when = (
            prediction.first_impression_at.strftime("%Y-%m-%d %H:%M")
            if prediction.first_impression_at
            else ""
        )
        return f"{prediction.get_first_impression_display()}, by {who} {when}, before the AI's answer was shown"

    @admin.display(description="Probabilities")
    def probability_table(self, prediction: Prediction) -> str:
        probabilities = prediction.probabilities or {}
        rows = [
            (Label(name).label, probability_text(probabilities[name]))
            for name in CLASSES
            if name in probabilities
        ]
        if not rows:
            return "—"
        return format_html(
            "<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        )

    @admin.display(description="Images")
    def images(self, prediction: Prediction) -> str:
        """The result page's viewer, through the access-checked image views."""
        if not prediction.scan.image:
            return "The image was purged under the retention policy."
        return _viewer(prediction, overlay=True)


def _reviewer(request: HttpRequest) -> User:
    """The signed-in reviewer: every review view runs behind admin_view, which admits
    only signed-in staff."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def _viewer(prediction: Prediction, *, overlay: bool) -> str:
    """The viewer of templates/predictions/_viewer.html; the heatmap only when `overlay`, and
    hidden at first for a "no tumour" answer, as on the result page."""
    scan = prediction.scan
    name = "scan-image" if scan.content_type in BROWSER_IMAGE_TYPES else "scan-preview"
    heatmap = overlay and bool(prediction.heatmap)
    context = {
        "image_url": reverse(f"predictions:{name}", args=[scan.pk]),
        "overlay_url": reverse("predictions:heatmap-image", args=[scan.pk]) if heatmap else "",
        "overlay_hidden": prediction.label == Label.NOTUMOR,
        "label": f"Scan {scan.pk}, {scan.width} by {scan.height} pixels",
        "viewer_id": "review-viewer",
    }
    return render_to_string("predictions/_viewer.html", context)
