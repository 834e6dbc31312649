"""DICOM nodes are configured here; received studies and deliveries are bookkeeping, read
only. The sealed return identifiers are never shown (not even as ciphertext)."""

from __future__ import annotations

from django.contrib import admin

from pacs.models import Delivery, DicomNode, ReceivedStudy

HIDDEN = {"sealed_identifiers"}


@admin.register(DicomNode)
class DicomNodeAdmin(admin.ModelAdmin):
    list_display = ("name", "ae_title", "host", "owner", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "ae_title", "host")
    autocomplete_fields = ("owner",)
    fieldsets = (
        (None, {"fields": ("name", "ae_title", "host", "owner", "active")}),
        (
            "Results back to (C-STORE of the SR and key images; leave empty to send nothing)",
            {"fields": ("return_ae_title", "return_host", "return_port")},
        ),
    )


@admin.register(ReceivedStudy)
class ReceivedStudyAdmin(admin.ModelAdmin):
    list_display = ("id", "node", "status", "first_received_at", "last_received_at",
                    "instances", "duplicates", "instances_refused", "associations",
                    "study")  # fmt: skip
    list_filter = ("status", "node")
    date_hierarchy = "first_received_at"
    readonly_fields = [f.name for f in ReceivedStudy._meta.fields if f.name not in HIDDEN]
    exclude = tuple(HIDDEN)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "receipt", "state", "attempts", "created_at", "delivered_at",
                    "next_attempt_at", "objects_sent")  # fmt: skip
    list_filter = ("state",)
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)
