"""Studies in the admin, read only: the results are the AI's and the files are private (no
file widgets, which would call .url on them). Deleting a study here takes its files along."""

from __future__ import annotations

from django.contrib import admin

from studies.models import Series, Study


class SeriesInline(admin.TabularInline):
    model = Series
    extra = 0
    can_delete = False
    fields = ("number", "source_format", "modality", "description", "orientation", "handling",
              "source_slices", "spacing_mm", "skipped_reason", "notes")  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "uploaded_at", "status", "label", "risk", "tumour_probability",
                    "slices_analysed", "slices_total", "model_version")  # fmt: skip
    list_filter = ("status", "label", "risk", "model_version", "uploaded_at")
    date_hierarchy = "uploaded_at"
    inlines = [SeriesInline]
    readonly_fields = [f.name for f in Study._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)
