"""The audit trail, read-only: nobody can add, change or delete an event here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ..admin_site import PortalModelAdmin
from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(PortalModelAdmin):
    list_display = (
        "seq",
        "occurred_at",
        "actor_type",
        "actor_id",
        "action",
        "object_type",
        "object_id",
    )
    list_filter = ("actor_type", "action", "object_type")
    search_fields = ("=object_id", "=scope", "=actor_id")
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    list_per_page = 100

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
