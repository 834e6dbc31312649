"""The audit log in the admin: readable by superusers (or `audit.view_auditevent`), never editable."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent

FIELDS = ("at", "action", "actor_email", "actor", "object_type", "object_id", "ip", "detail")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "action", "actor_email", "object_type", "object_id", "ip")
    list_filter = ("action", "object_type", ("at", admin.DateFieldListFilter))
    search_fields = ("actor_email", "object_id", "ip")
    date_hierarchy = "at"
    fields = FIELDS
    readonly_fields = FIELDS
    list_select_related = ("actor",)
    show_full_result_count = False  # COUNT(*) over a long log on every page is slow

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False
