from django.contrib import admin

from caregiver.admin import ClinicScopedAdmin, ReadOnlyAdmin

from .models import CrisisAlert, InboundMessage, OutboundMessage, ReminderRule
from .rendering import template_problem


@admin.register(ReminderRule)
class ReminderRuleAdmin(ClinicScopedAdmin):
    list_display = [
        "name", "clinic", "anchor", "offset_amount", "offset_unit", "local_time", "template_key", "active", "problem",
    ]  # fmt: skip
    list_filter = ["clinic", "active", "anchor"]
    search_fields = ["name", "key", "template_key"]

    @admin.display(description="Problem")
    def problem(self, obj: ReminderRule) -> str:
        # A rule saved around the form's check (an old row, a template since removed) shows here.
        return template_problem(key=obj.template_key) or "—"


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdmin, ClinicScopedAdmin):
    """The outbox: what was planned, sent, delivered, failed or suppressed (and why). Read-only."""

    clinic_path = "caregiver__clinic"
    list_display = ["send_at", "caregiver", "kind", "channel", "status", "status_reason", "attempts", "short_body"]
    list_filter = ["status", "kind", "channel", "status_reason", "caregiver__clinic"]
    search_fields = ["caregiver__name", "to", "body", "provider_id", "dedupe_key"]
    date_hierarchy = "send_at"
    list_select_related = ["caregiver"]
    ordering = ["-send_at"]

    @admin.display(description="Body")
    def short_body(self, obj: OutboundMessage) -> str:
        return obj.body[:80]


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin, ClinicScopedAdmin):
    list_display = ["received_at", "from_number", "caregiver", "action", "body"]
    list_filter = ["action", "clinic"]
    search_fields = ["from_number", "body", "caregiver__name"]
    date_hierarchy = "received_at"


@admin.register(CrisisAlert)
class CrisisAlertAdmin(ReadOnlyAdmin, ClinicScopedAdmin):
    """Crisis alerts and where each stands; staff acknowledge and close them in the portal."""

    list_display = ["opened_at", "clinic", "caregiver", "severity", "status", "level", "acknowledged_by_name"]
    list_filter = ["status", "severity", "clinic"]
    search_fields = ["caregiver__name", "inbound__from_number", "inbound__body"]
    date_hierarchy = "opened_at"
    list_select_related = ["clinic", "caregiver"]
