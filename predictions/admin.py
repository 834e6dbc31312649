from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from predictions.admin_review import ReviewAdmin
from predictions.models import Prediction, Scan


class PredictionInline(admin.StackedInline):
    model = Prediction
    can_delete = False
    extra = 0
    exclude = ("heatmap", "overlay")  # the stock file widget would call .url on private files
    readonly_fields = (
        "status",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        "error",
        "label",
        "confidence",
        "probabilities",
        "tumour_probability",
        "risk",
        "gate_accepted",
        "gate_score",
        "heatmap_inside_brain",
        "model_version",
        "model_sha256",
        "timings",
        "review_verdict",  # verdicts are recorded in the review admin, which stamps who and when
        "review_label",
        "review_note",
        "reviewed_by",
        "reviewed_at",
    )


admin.site.register(Prediction, ReviewAdmin)


@admin.register(Scan)
class ScanAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "uploaded_at", "source_format", "status", "label", "risk")
    list_filter = ("prediction__status", "prediction__label", "prediction__risk", "source_format")
    list_select_related = ("owner", "prediction")
    search_fields = ("id", "owner__email", "case_reference")
    date_hierarchy = "uploaded_at"
    exclude = ("image",)
    readonly_fields = (
        "owner",
        "batch",
        "case_reference",
        "files",
        "sha256",
        "source_format",
        "content_type",
        "width",
        "height",
        "file_size",
        "dicom_meta",
        "frame_index",
        "uploaded_at",
        "image_purged_at",
    )
    inlines = (PredictionInline,)

    @admin.display(description="Status", ordering="prediction__status")
    def status(self, scan: Scan) -> str:
        return scan.prediction.get_status_display()

    @admin.display(description="Label", ordering="prediction__label")
    def label(self, scan: Scan) -> str:
        return scan.prediction.get_label_display()

    @admin.display(description="Risk", ordering="prediction__risk")
    def risk(self, scan: Scan) -> str:
        return scan.prediction.get_risk_display()

    @admin.display(description="Images")
    def files(self, scan: Scan) -> str:
        if not scan.image:
            return "image purged"
        links = [
            format_html('<a href="{}">slice</a>', reverse("predictions:scan-image", args=[scan.pk]))
        ]
        if scan.prediction.overlay:
            url = reverse("predictions:overlay-image", args=[scan.pk])
            links.append(format_html('<a href="{}">Grad-CAM overlay</a>', url))
        return format_html(" · ".join(["{}"] * len(links)), *links)
