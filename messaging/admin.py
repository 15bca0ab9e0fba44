from django.contrib import admin

from caregiver.admin import ClinicScopedAdmin, ReadOnlyAdmin

from .models import CrisisAlert, InboundMessage, OutboundMessage, ReminderRule
from .rendering import mask_links, template_problem
from .selectors import message_text_for_staff


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

    # The detail page shows these masked in place of the raw fields (links carry the caregiver's tokens).
    exclude = ["body", "html", "subject"]
    readonly_fields = ["masked_subject", "masked_body", "masked_html"]

    @admin.display(description="Body")
    def short_body(self, obj: OutboundMessage) -> str:
        return message_text_for_staff(obj, field="body")[:80]

    @admin.display(description="Subject")
    def masked_subject(self, obj: OutboundMessage) -> str:
        return message_text_for_staff(obj, field="subject")

    @admin.display(description="Body")
    def masked_body(self, obj: OutboundMessage) -> str:
        return message_text_for_staff(obj, field="body")

    @admin.display(description="HTML (as source)")
    def masked_html(self, obj: OutboundMessage) -> str:
        return message_text_for_staff(obj, field="html")


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin, ClinicScopedAdmin):
    list_display = ["received_at", "from_number", "caregiver", "action", "masked_body"]
    exclude = ["body", "reply"]
    readonly_fields = ["masked_body", "masked_reply"]
    list_filter = ["action", "clinic"]
    search_fields = ["from_number", "body", "caregiver__name"]
    date_hierarchy = "received_at"

    @admin.display(description="Text")
    def masked_body(self, obj: InboundMessage) -> str:
        return mask_links(obj.body)

    @admin.display(description="Reply")
    def masked_reply(self, obj: InboundMessage) -> str:
        return mask_links(obj.reply)


@admin.register(CrisisAlert)
class CrisisAlertAdmin(ReadOnlyAdmin, ClinicScopedAdmin):
    """Crisis alerts and where each stands; staff acknowledge and close them in the portal."""

    list_display = ["opened_at", "clinic", "caregiver", "severity", "status", "level", "acknowledged_by_name"]
    list_filter = ["status", "severity", "clinic"]
    search_fields = ["caregiver__name", "inbound__from_number", "inbound__body"]
    date_hierarchy = "opened_at"
    list_select_related = ["clinic", "caregiver"]
